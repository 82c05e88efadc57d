"""The bundled reference models: how to build each one in PyTorch and Keras, and the numbers their
papers, seed documents and framework docs publish (every total with the variant and count it is)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PublishedTotal:
    """One number a source prints for a whole model, and exactly which variant and count it is."""

    value: int
    what: str
    """e.g. "PyTorch parameters, aux heads included" — the variant and the counting convention."""
    source: str


@dataclass(frozen=True)
class Reference:
    """A bundled reference model: how to build it in each framework and what the literature says."""

    name: str
    description: str
    source: str
    """Where the published numbers come from (paper, seed document, framework docs)."""
    totals: tuple[PublishedTotal, ...]
    builds: str
    """"module:function" of the builders, one in `torch_nets` (an nn.Module) and one of the same name in
    `keras_nets` (a keras.Model), imported only when used."""
    input_shape: tuple[int, ...]
    """One image, channels first (N, C, H, W); the Keras builders take the channels-last version."""
    default_framework: str = "torch"
    variant: str = ""
    """What this variant includes and leaves out (aux heads, conv biases, LRN...)."""
    table: str | None = None
    """File name under `tables/` of the published per-layer table (expectation-table CSV)."""
    extra_tables: tuple[str, ...] = field(default_factory=tuple)
    """Further published tables (a hand table to diff against, LeNet's connection counts)."""
    meta_device: bool = False
    """Build the PyTorch model on the meta device (no weights allocated)."""

    @property
    def published_total(self) -> int:
        """The headline number: the first published total."""
        return self.totals[0].value

    def builder(self, framework: str) -> Callable[..., Any]:
        """Import and return the builder function for `framework` ("torch" or "keras")."""
        module_name, _, function = self.builder_spec(framework).partition(":")
        return getattr(importlib.import_module(module_name), function)  # type: ignore[no-any-return]

    def builder_spec(self, framework: str) -> str:
        """"reference_models.torch_nets.classic:alexnet" for framework "torch" ("keras": `keras_nets`)."""
        return f"reference_models.{framework}_nets.{self.builds}"


def _t(value: int, what: str, source: str) -> PublishedTotal:
    return PublishedTotal(value, what, source)


SEED000 = "seed 000 (Stack Overflow answer on the Lasagne MNIST CNN)"
SEED001 = "seed 001 (U-Net question, Keras code and the user's hand table)"
SEED002 = "seed 002 (LeNet-5 layer-by-layer, after LeCun et al. 1998, Proc. IEEE 86(11), sec. II.B)"
SEED003 = "seed 003 (VGG-16 breakdown and the CS231n notes)"
SEED004 = "seed 004 (parameter calculation of LeNet / AlexNet / VGG)"
TV = "torchvision model documentation (num_params of the ImageNet weights' architecture)"

REFERENCES: dict[str, Reference] = {
    ref.name: ref
    for ref in (
        Reference(
            "lasagne-mnist",
            "Lasagne MNIST CNN: conv5x5-32, pool, conv3x3-32, pool, dense 256, dense 10",
            SEED000,
            (_t(217_706, "learnable parameters (832 + 9,248 + 205,056 + 2,570)", SEED000),),
            "classic:lasagne_mnist",
            (1, 1, 28, 28),
            table="lasagne-mnist.csv",
        ),
        Reference(
            "lenet5-1998",
            "LeNet-5 as LeCun et al. 1998 describe it: trainable subsampling, C3's partial table, RBF output",
            SEED002,
            (
                _t(60_000, "trainable parameters C1..F6 (156+12+1,516+32+48,120+10,164)", SEED002),
                _t(340_908, "connections, the RBF output's 840 included", "LeCun et al. 1998, sec. II.B"),
            ),
            "lenet1998:lenet5_1998",
            (1, 1, 32, 32),
            variant=(
                "custom layers (kinds lecun_conv, lecun_subsampling, lecun_full, lecun_rbf) with rules "
                "written through the public extension API; the output layer's 10x84 RBF centres are fixed "
                "(-1/+1 by hand in the paper), so they are non-trainable parameters: 60,840 in all"
            ),
            table="lenet5-1998.csv",
            extra_tables=("lenet5-1998_connections.csv",),
        ),
        Reference(
            "lenet5",
            "modern LeNet-5: conv5x5-6, maxpool, conv5x5-16, maxpool, fc 120, 84, 10",
            SEED004,
            (_t(61_706, "parameters (156 + 2,416 + 48,120 + 10,164 + 850)", SEED004),),
            "classic:lenet5",
            (1, 1, 32, 32),
            variant="max pooling and ReLU instead of the 1998 trainable subsampling; full C3 table",
            table="lenet5.csv",
        ),
        Reference(
            "alexnet",
            "AlexNet, single tower (both GPUs' halves merged), 227x227 input",
            SEED004,
            (_t(62_378_344, "parameters, single tower", SEED004),),
            "classic:alexnet",
            (1, 3, 227, 227),
            variant="the LRN layers (no parameters, shape-preserving) are left out: Keras has none",
            table="alexnet.csv",
            meta_device=True,
        ),
        Reference(
            "alexnet-2gpu",
            "AlexNet as trained on two GPUs: groups=2 in conv2, conv4 and conv5",
            "Krizhevsky et al. 2012, fig. 2; seed 004's single-tower table minus the cross-GPU kernels",
            (_t(60_965_224, "parameters with groups=2 in conv2/4/5", "Krizhevsky et al. 2012, fig. 2"),),
            "classic:alexnet_2gpu",
            (1, 3, 227, 227),
            variant="conv3 and the fully connected layers see both towers; LRN left out as in `alexnet`",
            table="alexnet-2gpu.csv",
            meta_device=True,
        ),
        Reference(
            "vgg16",
            "VGG-16 (configuration D), 224x224 input",
            SEED003 + "; Simonyan & Zisserman 2015, table 2",
            (
                _t(138_357_544, "parameters, biases included", SEED003),
                _t(138_344_128, "weights only, no biases (the CS231n notes' count)", SEED003),
            ),
            "classic:vgg16",
            (1, 3, 224, 224),
            variant=(
                "527.8 MB (MiB) of fp32 parameters (seed 004); the CS231n notes' per-layer activation rows add "
                "up to 15,237,608 values (58 MiB at fp32), not the 24M / ~93 MB of their TOTAL line"
            ),
            table="vgg16.csv",
            meta_device=True,
        ),
        Reference(
            "unet",
            "U-Net exactly as seed 001's Keras code: the four up-convs are 2x2 convs after 2x upsampling",
            SEED001,
            (_t(31_031_685, "parameters as Keras prints them for the seed's code", SEED001),),
            "unet:unet",
            (1, 1, 256, 256),
            default_framework="keras",
            variant="the up-convs have kernel 2 (2,097,664 / 524,544 / 131,200 / 32,832); the user's table assumed 3",
            table="unet.csv",
            extra_tables=("unet_seed001_hand.csv",),
            meta_device=True,
        ),
        Reference(
            "googlenet",
            "GoogLeNet as in the paper and Caffe's bvlc_googlenet deploy net: conv biases, no BatchNorm, 5x5 branches",
            "Szegedy et al. 2015, table 1 (rounded, ~6.8M); Caffe bvlc_googlenet deploy.prototxt",
            (
                _t(6_998_552, "parameters without the auxiliary heads (deploy net)", "Caffe bvlc_googlenet"),
                _t(13_378_280, "parameters with both auxiliary heads (aux_logits=True)", "Caffe bvlc_googlenet train_val"),
            ),
            "googlenet:googlenet",
            (1, 3, 224, 224),
            variant="aux heads only with aux_logits=True (training-time); LRN left out (no parameters)",
            meta_device=True,
        ),
        Reference(
            "googlenet-torchvision",
            "torchvision's GoogLeNet: BatchNorm after bias-free convs, 3x3 convs in the '5x5' branches",
            TV,
            (
                _t(6_624_904, "PyTorch parameters without aux heads (BN stats are buffers)", TV),
                _t(13_004_888, "PyTorch parameters with aux_logits=True (two aux heads)", "torchvision googlenet(aux_logits=True)"),
            ),
            "googlenet:googlenet_torchvision",
            (1, 3, 224, 224),
            variant="torchvision keeps a known bug for weight compatibility: the '5x5' branch uses 3x3 kernels",
            meta_device=True,
        ),
        Reference(
            "resnet50",
            "ResNet-50 as torchvision builds it (v1.5: stride in the 3x3 conv; bias-free convs + BatchNorm)",
            TV + "; He et al. 2016, table 1",
            (_t(25_557_032, "PyTorch parameters (BN running stats are buffers)", TV),),
            "resnet:resnet50",
            (1, 3, 224, 224),
            variant="Keras counts the 53,120 BatchNorm moving statistics as parameters: 25,610,152 there",
            meta_device=True,
        ),
        Reference(
            "resnet50-keras",
            "ResNet-50 as keras.applications.ResNet50 builds it: convs with biases, BatchNorm",
            "Keras Applications documentation (ResNet50, 25.6M); keras.applications source",
            (_t(25_636_712, "Keras parameters: 26,560 conv biases and 53,120 BN statistics more than torchvision", "keras.applications.ResNet50"),),
            "resnet:resnet50_keras",
            (1, 3, 224, 224),
            default_framework="keras",
            variant="the PyTorch port keeps the conv biases; its BN statistics are buffers: 25,583,592 parameters",
            meta_device=True,
        ),
    )
}


__all__ = ["REFERENCES", "PublishedTotal", "Reference"]
