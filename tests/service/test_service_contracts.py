"""The service on every input contract (in-process): /v1/info states it, /v1/classify answers with the
bundle's labels, however many, and the same probabilities as the library."""
from __future__ import annotations

import pytest

from fashion_edge.runtime import Classifier
from fashion_edge.runtime.bundle import Bundle

from contract_photos import photo_of
from serving import InProcess


@pytest.fixture(scope="module")
def served(contract_bundle):
    server = InProcess(["--bundle", str(contract_bundle), "--workers", "1"])
    server.wait_healthy()
    yield server, Bundle.load(contract_bundle)
    server.stop()


def test_info_states_the_contract_and_every_label(served):
    server, bundle = served
    info = server.request("GET", "/v1/info").json()
    assert info["input"] == bundle.manifest.input.to_json() and info["output"] == bundle.manifest.output.to_json()
    assert info["labels"] == list(bundle.labels) and info["preprocessing"] == bundle.manifest.input.preprocessing.id


def test_classify_answers_with_the_bundles_labels_as_the_library_does(served):
    server, bundle = served
    clf = Classifier(bundle)
    classes = len(bundle.labels)
    for frame in bundle.golden().images[:4]:
        photo = photo_of(frame)
        reply = server.classify(photo, f"?top={classes}")
        assert reply.status == 200, reply.body
        got, expected = reply.json(), clf.predict(photo)
        assert got["label"] == expected.label and got["probabilities"] == list(expected.probabilities)
        assert [t["label"] for t in got["top"]] == [bundle.labels[i] for i in expected.ranked(classes)]
    assert len(server.classify(photo).json()["top"]) == min(3, classes)
    refused = server.classify(photo, f"?top={classes + 1}")
    assert refused.status == 422 and f"from 1 to {classes}" in refused.json()["error"]
