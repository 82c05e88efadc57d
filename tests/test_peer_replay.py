"""The PyTorch cases of the peers' own test suites, replayed: torchinfo's stored `.out` expectations
(`tests/test_output/*.out`, inputs from `tests/torchinfo_test.py`), fvcore's `tests/test_flop_count.py`
and ptflops' `tests/common_test.py`.  The models are rebuilt here from each test's description.

Every case checks nn-auditor against an independent figure (sum(numel), FlopCounterMode on meta or a
hand formula) and then against the peer's stored figure: equal, or different for the stated reason.
The recurring reasons: torchinfo, ptflops and fvcore's norm counters include bias additions and
normalisation arithmetic in their multiply-accumulates (nn-auditor: bias adds, pooling and resizing
excluded, one per normalised element, stated in every report); torchinfo multiplies a layer's
parameters by its output size, which is wrong for recurrent layers, for modules that only return a
parameter, and misses products written in forward; torchinfo's "Total params" of a pruned model
counts the unpruned weights only.
"""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = nn.functional

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import auditor  # noqa: E402

# ---- models, as the peers' tests describe them -------------------------------------------------------


class SingleInputNet(nn.Module):
    """torchinfo's two-conv MNIST net (conv 1->10 k5, conv 10->20 k5, fc 320->50->10)."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.conv2_drop = nn.Conv2d(1, 10, 5), nn.Conv2d(10, 20, 5), nn.Dropout2d(0.3)
        self.fc1, self.fc2 = nn.Linear(320, 50), nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        return F.log_softmax(self.fc2(F.relu(self.fc1(x.view(-1, 320)))), dim=1)


class LSTMNet(nn.Module):
    """torchinfo's LSTMNet: embedding 20x300, LSTM 300->512 x2 (time-major), decoder 512->20."""

    def __init__(self):
        super().__init__()
        self.embedding, self.encoder, self.decoder = nn.Embedding(20, 300), nn.LSTM(300, 512, 2), nn.Linear(512, 20)

    def forward(self, x):
        out, hidden = self.encoder(self.embedding(x))
        return self.decoder(out).view(-1, 20), hidden


class PackPaddedLSTM(nn.Module):
    """torchinfo's pack_padded case: its initial states are made inside forward."""

    def __init__(self):
        super().__init__()
        self.embedding, self.lstm = nn.Embedding(60, 128), nn.LSTM(128, 32)
        self.hidden2out, self.dropout = nn.Linear(32, 18), nn.Dropout(0.2)

    def forward(self, batch, lengths):
        state = (torch.ones(1, batch.size(-1), 32, device=batch.device),) * 2
        packed = nn.utils.rnn.pack_padded_sequence(self.embedding(batch), lengths)
        _, (h, _) = self.lstm(packed, state)
        return F.log_softmax(self.hidden2out(self.dropout(h[-1])), dim=1)


PACKED_LENGTHS = [13, 12] + [11] * 8 + [10] * 14 + [9] * 14 + [8] * 9 + [7] * 19 + [6] * 27 + [5] * 20 + [4] * 15


class Recursive(nn.Module):
    """torchinfo's RecursiveNet: one 64->64 3x3 conv applied six times."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(64, 64, 3, 1, 1)

    def forward(self, x):
        for _ in range(6):
            x = self.conv1(x)
        return x


class Container(nn.Module):
    """torchinfo's ContainerModule: a child whose Sequential is called and also looped over (11 Linear calls)."""

    class Child(nn.Module):
        def __init__(self):
            super().__init__()
            self.seq, self.between = nn.Sequential(nn.Linear(5, 5), nn.Linear(5, 5)), nn.Linear(5, 5)

        def forward(self, x):
            out = self.between(self.seq(x))
            for layer in self.seq:
                out = layer(out)
            out = self.seq(x)
            for layer in self.seq:
                out = layer(out)
            return out

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(5, 5), Container.Child(), nn.Linear(5, 5)])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class ReuseLinear(nn.Module):
    def __init__(self):
        super().__init__()
        shared = nn.Linear(10, 10)
        self.model = nn.Sequential(*[m for _ in range(4) for m in (shared, nn.ReLU(True))])

    def forward(self, x):
        return self.model(x)


class Choices(nn.Module):
    """torchinfo's ModuleDictModel, called with layer_type="conv", activation_type="lrelu"."""

    def __init__(self):
        super().__init__()
        self.choices = nn.ModuleDict({"conv": nn.Conv2d(10, 10, 3), "pool": nn.MaxPool2d(3)})
        self.activations = nn.ModuleDict({"lrelu": nn.LeakyReLU(), "prelu": nn.PReLU()})

    def forward(self, x):
        return self.activations["lrelu"](self.choices["conv"](x))


class ReturnsWeight(nn.Module):
    """torchinfo's CustomParameter (and PrunedLayerNameModel): forward returns the module's own weight."""

    def __init__(self, name="weight", extra=None):
        super().__init__()
        self.register_parameter(name, nn.Parameter(torch.ones(4, 8)))
        if extra:
            self.register_parameter(extra, nn.Parameter(torch.zeros(4, 8)))
        self.name = name

    def forward(self, x):
        return getattr(self, self.name)


class ParameterListModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(torch.zeros(100, 100)), nn.Parameter(torch.zeros(100, 200))])

    def forward(self, x):
        return x


class MixedTrainableParameters(nn.Module):
    def __init__(self):
        super().__init__()
        self.w, self.b = nn.Parameter(torch.zeros(10)), nn.Parameter(torch.zeros(10), requires_grad=False)

    def forward(self, x):
        return self.w * x + self.b


class RegisterParameter(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Linear(2, 2), nn.Linear(2, 2))
        self.register_parameter("weights", nn.Parameter(torch.zeros(2)))

    def forward(self, x):
        for k, block in enumerate(self):
            x = x + self.weights[k] * block(x)
        return x


class MixedTrainable(nn.Module):
    def __init__(self):
        super().__init__()
        self.fully, self.partially, self.frozen = nn.Conv1d(1, 1, 1), nn.Conv1d(1, 1, 1), nn.Conv1d(1, 1, 1)
        self.partially.bias.requires_grad = False
        self.frozen.requires_grad_(False)

    def forward(self, x):
        return self.frozen(self.partially(self.fully(x)))


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.decode = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU()), nn.Sequential(
            nn.Conv2d(16, 3, 3, padding=1), nn.ReLU())
        self.pool, self.unpool = nn.MaxPool2d(2, 2, return_indices=True), nn.MaxUnpool2d(2, 2)

    def forward(self, x):
        x = self.encoder(x)
        shape = x.size()
        x, indices = self.pool(x)
        return self.decode(self.unpool(x, indices=indices, output_size=shape))


class Siamese(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 64, 10), nn.Conv2d(64, 128, 7)
        self.conv3, self.conv4 = nn.Conv2d(128, 128, 4), nn.Conv2d(128, 256, 4)
        self.pooling, self.fc1, self.fc2, self.dropout = nn.MaxPool2d(2, 2), nn.Linear(256, 4096), nn.Linear(4096, 1), nn.Dropout(0.5)

    def tower(self, x):
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = self.pooling(F.relu(conv(x)))
        return self.fc1(x.view(x.size(0), -1))

    def forward(self, x1, x2):
        return torch.sigmoid(self.fc2(self.dropout(torch.abs(self.tower(x1) - self.tower(x2)))))


class ThreeNet(nn.Module):
    """fvcore's ThreeNet: 1x1 conv 2->5, global average pool, linear 5->3->1."""

    def __init__(self):
        super().__init__()
        self.conv, self.pool = nn.Conv2d(2, 5, 1), nn.AdaptiveAvgPool2d(1)
        self.linear1, self.linear2 = nn.Linear(5, 3), nn.Linear(3, 1)

    def forward(self, x):
        return self.linear2(self.linear1(torch.flatten(self.pool(self.conv(x)), 1)))


class Einsum(nn.Module):
    def __init__(self, equation):
        super().__init__()
        self.equation = equation

    def forward(self, *operands):
        return torch.einsum(self.equation, *operands)


class Call(nn.Module):
    """A module whose forward is one torch call (fvcore's and ptflops' functional cases)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def pruned_single_input_net():
    model = SingleInputNet()
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.utils.prune.l1_unstructured(module, "weight", 0.5)
    return model


# ---- the cases ---------------------------------------------------------------------------------------

FLOP_COUNTER = "flop_counter"
"""Sentinel: the independent MAC figure is FlopCounterMode's on meta (FLOPs / 2)."""


def case(name, build, inputs, peer, peer_params, peer_macs, params, macs, why=""):
    return pytest.param(build, inputs, peer_params, peer_macs, params, macs, why, id=f"{peer}:{name}")


def _long(*shape):
    return torch.zeros(*shape, dtype=torch.long)


CASES = [
    # torchinfo: the stored .out files' Total params / Total mult-adds
    case("single_input", SingleInputNet, (torch.zeros(2, 1, 28, 28),), "torchinfo", 21_840, 975_200, 21_840,
         FLOP_COUNTER, "torchinfo adds the 14,200 bias additions"),
    case("single_input_batch_dim", SingleInputNet, (torch.zeros(1, 1, 28, 28),), "torchinfo", 21_840, 487_600,
         21_840, FLOP_COUNTER, "bias additions"),
    case("linear", lambda: nn.Linear(8, 64), (torch.zeros(32, 16, 8),), "torchinfo", 576, 294_912, 576, FLOP_COUNTER,
         "bias additions: 512 positions x 64"),
    case("groups", lambda: nn.Conv2d(16, 32, 3, groups=4), (torch.zeros(7, 16, 28, 28),), "torchinfo", 1_184,
         5_602_688, 1_184, FLOP_COUNTER, "bias additions"),
    case("recursive", Recursive, (torch.zeros(1, 64, 28, 28),), "torchinfo", 36_928, 173_709_312, 36_928,
         FLOP_COUNTER, "bias additions (6 calls x 784 x 64)"),
    case("container", Container, (torch.zeros(1, 5),), "torchinfo", 150, 330, 150, FLOP_COUNTER,
         "bias additions (11 calls x 5)"),
    case("too_many_linear", ReuseLinear, (torch.zeros(2, 10),), "torchinfo", 110, 880, 110, FLOP_COUNTER,
         "bias additions (4 calls x 2 x 10)"),
    case("module_dict", Choices, (torch.zeros(1, 10, 3, 3),), "torchinfo", 911, 910, 911, FLOP_COUNTER,
         "bias additions; the unused pool and PReLU are reported unused"),
    case("custom_parameter", lambda: ReturnsWeight(), (torch.zeros(1),), "torchinfo", 32, 128, 32, 0,
         "forward returns its weight and computes nothing; torchinfo multiplies params by the output size"),
    case("parameter_list", ParameterListModel, (torch.zeros(100, 100),), "torchinfo", 30_000, 0, 30_000, 0),
    case("mixed_trainable_parameters", MixedTrainableParameters, (torch.zeros(10),), "torchinfo", 20, None, 20, 0),
    case("register_parameter", RegisterParameter, (torch.zeros(1, 2),), "torchinfo", 14, None, 14, FLOP_COUNTER),
    case("trainable_column", MixedTrainable, (torch.zeros(1, 1, 1),), "torchinfo", 6, 6, 6, FLOP_COUNTER,
         "bias additions"),
    case("pruned_adversary", lambda: ReturnsWeight("weight_orig"), (torch.zeros(1),), "torchinfo", 32, 1_024, 32, 0,
         "a parameter merely named weight_orig is no pruned weight; returning it costs nothing"),
    case("pruned_adversary (fake mask)", lambda: ReturnsWeight("weight_orig", "weight_mask"), (torch.zeros(1),),
         "torchinfo", 32, None, 64, 0, "weight_mask is a real parameter here: torchinfo's own test says 'should be 64'"),
    case("pruning", pruned_single_input_net, (torch.zeros(16, 1, 28, 28),), "torchinfo", 10_965, 3_957_600, 21_840,
         FLOP_COUNTER, "torchinfo counts unpruned weights only (nn-auditor shows them as pruned: 21,840 - 10,875); "
         "a masked weight is still a dense product"),
    case("lstm", LSTMNet, (_long(1, 100),), "torchinfo", 3_784_580, 377_856_000, 3_784_580,
         100 * (4 * 512 * (300 + 512) + 4 * 512 * (512 + 512)) + 100 * 512 * 20, "bias additions"),
    case("pack_padded", PackPaddedLSTM, ((_long(20, 128),), {"lengths": torch.tensor(PACKED_LENGTHS)}), "torchinfo",
         29_010, 601_410_000, 29_010, 906 * 4 * 32 * (128 + 32) + 128 * 32 * 18,
         "torchinfo multiplies the LSTM's parameters by its output size; 906 packed steps cost 4*32*(128+32) each"),
    case("autoencoder", AutoEncoder, (torch.zeros(1, 3, 64, 64),), "torchinfo", 883, 3_616_768, 883, FLOP_COUNTER,
         "bias additions"),
    case("siamese_net", Siamese, (torch.zeros(1, 1, 88, 88), torch.zeros(1, 1, 88, 88)), "torchinfo", 2_251_585,
         1_060_000_000, 2_251_585, FLOP_COUNTER, "bias additions"),
    # fvcore: tests/test_flop_count.py (its "flops" are multiply-accumulates)
    case("threeNet", ThreeNet, (torch.zeros(4, 2, 10, 10),), "fvcore", None, 4_000 + 72 + 2_000, 37, 4_072,
         "fvcore counts global average pooling (2,000); nn-auditor excludes pooling"),
    case("einsum nct,ncp->ntp", lambda: Einsum("nct,ncp->ntp"), (torch.zeros(1, 5, 2), torch.zeros(1, 5, 12)),
         "fvcore", None, 120, 0, 120),
    case("einsum ntg,ncg->nct", lambda: Einsum("ntg,ncg->nct"), (torch.zeros(1, 2, 6), torch.zeros(1, 5, 6)),
         "fvcore", None, 60, 0, 60),
    case("einsum nc,nchw->hw", lambda: Einsum("nc,nchw->hw"), (torch.zeros(3, 4), torch.zeros(3, 4, 2, 3)),
         "fvcore", None, 72, 0, 72),
    case("bmm", lambda: Call(torch.bmm), (torch.zeros(2, 5, 7), torch.zeros(2, 7, 3)), "fvcore", None, 210, 0,
         FLOP_COUNTER),
    case("matmul broadcast", lambda: Call(torch.matmul), (torch.zeros(2, 4, 5), torch.zeros(5, 6)), "fvcore", None,
         240, 0, FLOP_COUNTER),
    case("torch.mm", lambda: Call(torch.mm), (torch.zeros(3, 4), torch.zeros(4, 5)), "fvcore", None, 60, 0, 60),
    case("BatchNorm1d eval", lambda: nn.BatchNorm1d(10, affine=False).eval(), (torch.zeros(10, 10),), "fvcore",
         None, 100, 0, 100),
    case("BatchNorm2d train", lambda: nn.BatchNorm2d(10, affine=False), (torch.zeros(10, 10, 5, 5),), "fvcore",
         None, 10_000, 0, 2_500, "fvcore counts 4 per element in training (the statistics); nn-auditor one per "
         "element, the inference convention"),
    case("F.batch_norm affine", lambda: Call(lambda x: F.batch_norm(x, None, None, torch.ones(2), torch.ones(2),
                                                                    training=True)),
         (torch.zeros(2, 2, 2, 2),), "fvcore", None, 80, 0, 16, "fvcore: 5 per element in training with affine"),
    case("F.group_norm affine", lambda: Call(lambda x: F.group_norm(x, 2, torch.ones(2), torch.ones(2))),
         (torch.zeros(2, 2, 2, 2),), "fvcore", None, 80, 0, 16, "fvcore: 5 per element with affine"),
    case("F.interpolate bilinear", lambda: Call(lambda x: F.interpolate(x, None, 2, "bilinear", False)),
         (torch.zeros(2, 2, 2, 2),), "fvcore", None, 256, 0, 0,
         "fvcore: 4 per output element; nn-auditor counts resizing as 0 by convention"),
    # ptflops: tests/common_test.py
    case("conv", lambda: nn.Sequential(nn.Conv2d(3, 2, 3)), (torch.zeros(1, 3, 224, 224),), "ptflops", 56,
         2_759_904, 56, FLOP_COUNTER, "ptflops adds the 98,568 bias additions"),
    case("conv_t", lambda: nn.ConvTranspose2d(3, 2, 3, stride=2), (torch.zeros(1, 3, 224, 224),), "ptflops", 56,
         3_112_706, 56, 224 * 224 * 3 * 9 * 2, "ptflops adds the 403,202 bias additions of the output"),
    case("fc", lambda: nn.Sequential(nn.Linear(3, 2)), (torch.zeros(1, 3),), "ptflops", 8, 8, 8, FLOP_COUNTER,
         "bias additions"),
    case("fc_multidim", lambda: nn.Sequential(nn.Linear(3, 2, bias=False)), (torch.zeros(1, 4, 5, 3),), "ptflops", 6,
         120, 6, FLOP_COUNTER),
    case("interpolate", lambda: Call(lambda x: F.interpolate(x, size=(20, 20), mode="bilinear")),
         (torch.zeros(1, 3, 10, 10),), "ptflops", 0, 1_200, 0, 0, "ptflops: 1 per output element; resizing is 0 here"),
    case("ten_matmul", lambda: Call(lambda x: x.matmul(x.t())), (torch.zeros(1, 10),), "ptflops", 0, None, 0, 10),
]


def _split(inputs):
    if len(inputs) == 2 and isinstance(inputs[0], tuple) and isinstance(inputs[1], dict):
        return inputs
    return inputs, {}


def flop_counter_macs(build, inputs) -> int:
    """FlopCounterMode's multiply-accumulates (matrix products and convolutions, bias excluded) on meta."""
    args, kwargs = _split(inputs)
    with torch.device("meta"):
        model = build()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(*[a.to("meta") for a in args], **{k: v.to("meta") for k, v in kwargs.items()})
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("build, inputs, peer_params, peer_macs, params, macs, why", CASES)
def test_replay(build, inputs, peer_params, peer_macs, params, macs, why):
    model = build()
    audit = auditor.audit(model, example_inputs=inputs)
    assert audit.totals.reported == params == sum(p.numel() for p in model.parameters())
    assert audit.totals.macs_complete, audit.model.notes
    expected = flop_counter_macs(build, inputs) if macs == FLOP_COUNTER else macs
    assert audit.totals.macs == expected
    for peer, ours in ((peer_params, params), (peer_macs, expected)):
        if peer is not None and not why:
            assert ours == peer
    if peer_params is not None and peer_params != params or peer_macs is not None and peer_macs != expected:
        assert why, "a disagreement with a peer needs its reason"


def test_pruned_model_reproduces_torchinfos_unpruned_count():
    audit = auditor.audit(pruned_single_input_net(), input_shape=(16, 1, 28, 28))
    assert audit.totals.reported - audit.totals.pruned == 10_965  # torchinfo's "Total params"
    assert audit.totals.masked == 250 + 5_000 + 16_000 + 500


def test_bias_additions_are_what_separates_torchinfo_from_nn_auditor():
    """torchinfo's single_input mult-adds minus nn-auditor's MACs is exactly one add per biased output."""
    audit = auditor.audit(SingleInputNet(), input_shape=(2, 1, 28, 28))
    bias_adds = sum(math.prod(c.output_shape) for c in audit.checks if c.kind in ("conv", "dense"))
    assert audit.totals.macs + bias_adds == 975_200


transformers = pytest.importorskip("transformers")


def test_bert_base_at_512_tokens_against_torchinfos_218_million():
    """torchinfo's bert.out: 109,482,240 parameters and 218.57 M mult-adds for BertModel on (2, 512): it
    multiplies each Linear's parameters by its output size but misses the attention products and
    counts embeddings; FlopCounterMode on meta measures ~97 G, as nn-auditor does (plus norms)."""
    with torch.device("meta"):
        model = transformers.BertModel(transformers.BertConfig())
    audit = auditor.audit(model, input_shape=(2, 512), input_dtype="int64")
    assert audit.totals.reported == 109_482_240 == sum(p.numel() for p in model.parameters())
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(2, 512, dtype=torch.long, device="meta"))
    norms = sum(c.macs for c in audit.checks if c.kind == "layer_norm")
    assert audit.totals.macs - norms == counter.get_total_flops() // 2
    assert audit.totals.macs > 400 * 218_570_000


def test_resnet50_parameters_match_and_macs_follow_flop_counter():
    """torchinfo's resnet50.out (torchvision, (2, 3, 224, 224)): 25,557,032 parameters, 8.18 G mult-adds."""
    from reference_models import build

    model = build("resnet50", "torch", meta=True)
    audit = auditor.audit(model, input_shape=(2, 3, 224, 224))
    assert audit.totals.reported == 25_557_032
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(2, 3, 224, 224, device="meta"))
    norms = sum(c.macs for c in audit.checks if c.kind == "batch_norm")
    assert audit.totals.macs - norms == counter.get_total_flops() // 2  # 8.18 G less torchinfo's bias adds
    assert abs(audit.totals.macs - 8.18e9) / 8.18e9 < 0.01


def test_flan_t5_small_parameters():
    """torchinfo's flan_t5_small.out: 76,961,152.  The published model shares one embedding between
    encoder and decoder but has its own LM head; transformers 5's T5Config ties the head too (its
    `tie_word_embeddings` now means output scaling), so the head is untied by hand."""
    config = transformers.T5Config(d_model=512, d_ff=1024, d_kv=64, num_layers=8, num_decoder_layers=8, num_heads=6,
                                   vocab_size=32128, feed_forward_proj="gated-gelu")
    with torch.device("meta"):
        model = transformers.T5ForConditionalGeneration(config)
        model.lm_head.weight = nn.Parameter(torch.empty(32128, 512))
    audit = auditor.audit(model)
    assert audit.totals.reported == 76_961_152 == sum(p.numel() for p in model.parameters())
    assert audit.totals.mismatches == 0
