"""photo-v1 against Keras' own image loader (keras.utils.image_dataset_from_directory): the same crop,
pad and stretch geometry. With nearest-neighbour sampling and whole-number scale factors the two
resizers pick the same source pixels, so the frames are identical; with bilinear they differ (Pillow
antialiases when shrinking, tf.image.resize does not), which docs/preprocessing.md states."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fashion_edge.runtime.photo import preprocess_photo
from fashion_edge.runtime.recipes import PHOTO, contract_for, preprocessing

pytestmark = pytest.mark.slow      # TensorFlow


@pytest.mark.parametrize("mode, size, keras_flags", [
    ("stretch", (480, 320), {}),
    ("crop", (1100, 640), {"crop_to_aspect_ratio": True}),     # cropped to 960x640, then 20:1
    ("pad", (960, 320), {"pad_to_aspect_ratio": True}),        # fitted to 48x16, 8 black rows above and below
])
def test_crop_pad_and_stretch_take_the_pixels_keras_takes(mode, size, keras_flags, tmp_path):
    import keras

    folder = tmp_path / "photos" / "only-class"
    folder.mkdir(parents=True)
    rgb = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(rgb).save(folder / "photo.png")
    (theirs,) = list(keras.utils.image_dataset_from_directory(
        tmp_path / "photos", image_size=(32, 48), interpolation="nearest", shuffle=False, batch_size=None,
        labels=None, **keras_flags))
    ours = preprocess_photo(folder / "photo.png",
                            contract_for(32, 48, 3, preprocessing(PHOTO, resize=mode, interpolation="nearest")))
    assert np.array_equal(ours, theirs.numpy().astype(np.uint8))


def test_where_pillows_resize_and_tf_image_resize_differ(tmp_path, capsys):
    """Smooth photos (synthetic shapes enlarged 10x, JPEG), shrunk to 32x48 by both loaders. Printed (-s)
    for docs/preprocessing.md; asserted only to stay the same picture (a few levels on average)."""
    import keras
    import synthetic     # tests/data (conftest puts it on the path)

    folder = tmp_path / "photos" / "x"
    folder.mkdir(parents=True)
    frames = synthetic.shapes12().test[:60]
    for i, frame in enumerate(frames):
        Image.fromarray(frame).resize((480, 320), Image.Resampling.BICUBIC).save(folder / f"{i:03d}.jpg", quality=92)
    lines = []
    for theirs_name, ours_name in (("nearest", "nearest"), ("area", "box"), ("bilinear", "bilinear"), ("bicubic", "bicubic")):
        theirs = list(keras.utils.image_dataset_from_directory(tmp_path / "photos", image_size=(32, 48), shuffle=False,
                                                               interpolation=theirs_name, batch_size=None, labels=None))
        contract = contract_for(32, 48, 3, preprocessing(PHOTO, interpolation=ours_name))
        diffs = [np.abs(preprocess_photo(path, contract).astype(np.float64) - t.numpy())
                 for path, t in zip(sorted(folder.glob("*.jpg")), theirs)]
        mean = float(np.mean([d.mean() for d in diffs]))
        lines.append(f"{ours_name:8s} vs tf {theirs_name:8s}: mean |diff| {mean:.2f} levels, "
                     f"largest pixel {max(d.max() for d in diffs):.0f}")
        assert mean < 8
    with capsys.disabled():
        print("\n" + "\n".join(lines))
