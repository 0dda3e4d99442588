"""The one native helper mediapipe's metadata writer imports and the mediapipe 1.x wheels leave out.

`mediapipe.tasks.python.metadata.metadata` imports
`mediapipe.tasks.cc.metadata.python._pywrap_metadata_version` for a single function,
GetMinimumMetadataParserVersion: the oldest metadata parser that can read a metadata buffer. The
wheels from 0.10.30 on ship the writer but not that extension, so the import fails. When (and only
when) it is missing, `install()` registers a module computing the same thing from the buffer through
mediapipe's own generated flatbuffer classes, member by member as mediapipe's metadata_version.cc
does: each schema member added after 1.0.0 raises the minimum to the version that introduced it.
"""
from __future__ import annotations

import importlib
import sys
import types

MODULE = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"

# Schema members added after 1.0.0, and the parser version that introduced each (metadata_version.cc).
VOCABULARY_FILE = (1, 0, 1)
PROCESS_UNITS = (1, 1, 0)                # subgraph input/output process units, BERT/SentencePiece tokenizers
TENSOR_GROUPS = (1, 2, 0)
REGEX_TOKENIZER = (1, 2, 1)
AUDIO_PROPERTIES = (1, 3, 0)
SCANN_INDEX_FILE = (1, 4, 0)
ASSOCIATED_FILE_VERSION = (1, 4, 1)
CUSTOM_METADATA = (1, 5, 0)


def install() -> None:
    """Make mediapipe's metadata writer importable: a no-op when the native module is present."""
    try:
        importlib.import_module(MODULE)
        return
    except ImportError:
        pass
    parent = None
    for depth in range(3, MODULE.count(".") + 1):      # mediapipe.tasks.cc, ...cc.metadata, ...: absent too
        name = ".".join(MODULE.split(".")[:depth + 1])
        module = sys.modules.get(name) or types.ModuleType(name)
        sys.modules[name] = module
        if parent is not None:
            setattr(parent, name.rsplit(".", 1)[1], module)
        parent = module
    module.GetMinimumMetadataParserVersion = minimum_parser_version


def minimum_parser_version(buffer: bytes) -> str:
    """The minimum metadata parser version able to read `buffer` (a ModelMetadata flatbuffer)."""
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

    root = fb.ModelMetadata.GetRootAsModelMetadata(bytearray(buffer), 0)
    metadata = fb.ModelMetadataT.InitFromObj(root)
    found = [(1, 0, 0)]
    for subgraph in metadata.subgraphMetadata or []:
        found += _subgraph(fb, subgraph)
    found += _files(fb, metadata.associatedFiles)
    return ".".join(str(n) for n in max(found))


def _subgraph(fb, subgraph) -> list[tuple[int, int, int]]:
    found = []
    for tensor in (subgraph.inputTensorMetadata or []) + (subgraph.outputTensorMetadata or []):
        found += _files(fb, tensor.associatedFiles) + _units(fb, tensor.processUnits)
        if tensor.content is not None and tensor.content.contentPropertiesType == fb.ContentProperties.AudioProperties:
            found.append(AUDIO_PROPERTIES)
    found += _files(fb, subgraph.associatedFiles)
    for units in (subgraph.inputProcessUnits, subgraph.outputProcessUnits):
        if units is not None:
            found += [PROCESS_UNITS] + _units(fb, units)
    if subgraph.inputTensorGroups is not None or subgraph.outputTensorGroups is not None:
        found.append(TENSOR_GROUPS)
    if subgraph.customMetadata is not None:
        found.append(CUSTOM_METADATA)
    return found


def _files(fb, files) -> list[tuple[int, int, int]]:
    found = []
    for f in files or []:
        if f.type == fb.AssociatedFileType.VOCABULARY:
            found.append(VOCABULARY_FILE)
        if f.type == fb.AssociatedFileType.SCANN_INDEX_FILE:
            found.append(SCANN_INDEX_FILE)
        if f.version is not None:
            found.append(ASSOCIATED_FILE_VERSION)
    return found


def _units(fb, units) -> list[tuple[int, int, int]]:
    kinds = {fb.ProcessUnitOptions.BertTokenizerOptions: PROCESS_UNITS,
             fb.ProcessUnitOptions.SentencePieceTokenizerOptions: PROCESS_UNITS,
             fb.ProcessUnitOptions.RegexTokenizerOptions: REGEX_TOKENIZER}
    return [kinds[u.optionsType] for u in units or [] if u.optionsType in kinds]
