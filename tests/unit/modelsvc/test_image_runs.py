"""map_over_images: whole sets from files, failures per file, sequences of modules."""

import numpy as np
import torch
import torchvision
from torch import nn

from modelsvc.architectures import SmallCNN
from modelsvc.image_runs import map_over_images
from modelsvc.images import read_metadata
from modelsvc.sequence import to_sequence


def test_unreadable_files_are_reported_and_their_rows_dropped(image_folder):
    (image_folder / "img04.png").write_bytes(b"not an image")
    items = read_metadata(image_folder / "metadata.csv", image_folder)
    seen = []

    def compute(images, indices):
        seen.append((len(images), list(indices)))
        return {"mean": images.mean(dim=(1, 2, 3)).numpy(), "index": np.array(indices)}

    run = map_over_images(items, (24, 24), compute, batch_size=4)
    assert [size for size, _ in seen] == [4, 4, 4]  # the last call is padded
    assert seen[-1][1] == [8, 9, 9, 9]
    assert run.keys == [item.key for item in items if item.key != "img04.png"]
    np.testing.assert_array_equal(run.value["index"], [0, 1, 2, 3, 5, 6, 7, 8, 9])
    assert run.failure_record() == [
        {"path": str(image_folder / "img04.png"), "error": run.failures[0].reason}
    ]
    assert "img04.png" in str(run.failures[0])


def test_sequences_follow_the_forward_pass():
    torch.manual_seed(0)
    inputs = torch.rand(2, 3, 32, 32)
    for model in (SmallCNN(num_classes=3), torchvision.models.resnet18(num_classes=3)):
        model.eval()
        x = inputs
        with torch.no_grad():
            for _, module in to_sequence(model):
                x = module(x)
            torch.testing.assert_close(x, model(inputs))
    names = [name for name, _ in to_sequence(nn.Sequential(nn.Sequential(nn.ReLU()), nn.ReLU()))]
    assert names == ["0.0", "1"]
