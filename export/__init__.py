"""fashion_edge.export: TFLite + ONNX export, quantization, manifest and parity verification (needs [export])."""
