// The bundle's contract as the page and Node read it from manifest.json (fashion_edge/runtime/contract.py
// is the Python twin): the input (size, colour, preprocessing recipe: preprocess.js), the output
// (classes, logits or probabilities) and the labels. Schema-2 manifests, which state no output, read as
// what they always meant: 28x28x1 fashion-mnist-v1, logits.
import { inputContract } from "./preprocess.js";

export const OUTPUT_KINDS = Object.freeze(["logits", "probabilities"]);
export const TOP = 3;                       // classes shown and returned as `top`, at most

/** manifest.json -> {input, output: {classes, kind}, labels}; throws naming what does not fit. */
export function readContract(manifest) {
  const labels = manifest?.labels;
  if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === "string")) {
    throw new Error("manifest.json must list at least 2 labels (strings)");
  }
  const input = inputContract(manifest.input);
  const output = manifest.output ?? { classes: labels.length, kind: "logits" };
  if (!OUTPUT_KINDS.includes(output.kind)) {
    throw new Error(`manifest.json output.kind must be one of ${OUTPUT_KINDS.join(", ")}, not ${JSON.stringify(output.kind)}`);
  }
  if (output.classes !== labels.length) {
    throw new Error(`manifest.json output.classes is ${output.classes} for ${labels.length} labels`);
  }
  return Object.freeze({
    input, output: Object.freeze({ classes: output.classes, kind: output.kind }), labels: Object.freeze([...labels]),
  });
}

/** The bytes of one frame: height * width * channels. */
export function frameLength(input) {
  return input.height * input.width * input.channels;
}

/**
 * A model's outputs -> probabilities, as the Python runtime computes them: a softmax of logits; a
 * file that ends in a softmax gets its outputs clipped at 0 and renormalised (8-bit levels do not sum
 * to exactly 1).
 */
export function probabilitiesOf(outputs, kind) {
  const values = Array.from(outputs);
  if (kind === "probabilities") {
    const kept = values.map((v) => Math.max(v, 0));
    const total = kept.reduce((a, b) => a + b, 0);
    return total > 0 ? kept.map((v) => v / total) : kept.map(() => 1 / kept.length);
  }
  const best = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - best));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

/** Outputs -> {label_id, label, confidence, probabilities, top (min(TOP, classes), best first)}; ties: first class. */
export function rank(outputs, contract) {
  const probabilities = probabilitiesOf(outputs, contract.output.kind);
  let best = 0;
  for (let i = 1; i < outputs.length; i++) if (outputs[i] > outputs[best]) best = i;
  const order = probabilities.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]);
  return {
    label_id: best, label: contract.labels[best], confidence: probabilities[best], probabilities,
    top: order.slice(0, Math.min(TOP, contract.labels.length))
      .map(([p, i]) => ({ label_id: i, label: contract.labels[i], confidence: p })),
  };
}
