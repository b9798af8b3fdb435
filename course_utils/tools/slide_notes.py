"""Speaker notes for every section of every deck, and what makes long cells fit their slides: one idempotent applier.

    python -m course_utils.tools.slide_notes [--check] [NOTEBOOK ...]

The notes live here, keyed by each section's heading (the first line of a markdown cell whose slide type is
`slide`). Applying them puts one `notes` cell (markdown, `metadata.slideshow.slide_type = "notes"`, marked with
`metadata.speaker_notes = true`) right after each section's slide cell: what to say, one question for the room with
its expected answer, and the minutes; the title slide's notes give the deck's total. Running it again replaces the
notes it wrote, so the notes can be edited here and re-applied on top of newer notebooks. A section heading with no
notes here is an error that names it (write its notes, then apply again).

`FITS` makes a long cell fit its slide without a second copy of the code and without changing what the notebook
runs: it only sets metadata — a `slide_excerpt` (the lines the slide shows, found by content so it survives edits),
slide tags (`remove-input`, `slide-compact`) or a cell's slide type (a cell that opens its own subslide). See
`course_utils.tools.slides` for what each does on the slide.

`--check` changes nothing and exits 1 if applying would change a notebook.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .notebooks import course_notebooks, display_path

MARK = "speaker_notes"  # metadata key of the notes cells this tool writes


@dataclass(frozen=True)
class Note:
    """One section's speaker notes."""

    heading: str  # the start of the section slide's first line, e.g. "## 1 · Cross-correlation"
    minutes: int
    say: str
    ask: str
    answer: str


@dataclass(frozen=True)
class Fit:
    """Metadata for one code or markdown cell, found by a line it contains."""

    contains: str  # a substring of the cell's source that only this cell has
    excerpt: tuple[tuple[str, str], ...] = ()  # (first line, last line) ranges the slide shows, by content
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    slide_type: str | None = None
    split_at: str = ""  # markdown only: the line (by content) that starts a new cell, shown on a new subslide


@dataclass
class Deck:
    """A deck's notes (one per section slide, in order) and its slide fits."""

    notes: list[Note]
    fits: list[Fit] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------------------------------
# The notes, deck by deck
# ----------------------------------------------------------------------------------------------------------------------

DECKS: dict[str, Deck] = {
    "01_convolution": Deck(
        notes=[
            Note("# 01 · Convolution", 2,
                 "Today we open up the layer every vision network is built from: by the end you compute it by hand, "
                 "predict its output shape and parameter count before running it, and train a 9,098-parameter CNN "
                 "on MNIST in seconds on a CPU.",
                 "Who has used `nn.Conv2d` — and who could say what it computes at one output pixel?",
                 "A weighted sum of the pixels under a small window plus a bias; most people cannot yet say how "
                 "the window moves or what shape comes out — that is today."),
            Note("## Learning goals", 1,
                 "Six goals, one per section block: the operation, kernels (designed and learned), shapes, channels "
                 "and parameters, pooling and receptive field, then a trained network and its typical bugs.",
                 "Which of these goals would you need to debug a shape error in your own network?",
                 "Goal 3, the output-size formula (and goal 6's mistakes): shape errors are the most common bug."),
            Note("## 1 · Cross-correlation", 6,
                 "Walk through the formula on the 3×3 example: put the 2×2 kernel on the top-left window and "
                 "multiply-add — 0·0 + 1·1 + 3·2 + 4·3 = 19. The two-loop `cross_correlate` gives exactly "
                 "`F.conv2d`'s output; the subslide shows that deep learning's 'convolution' skips the kernel flip.",
                 "Why does it not matter that PyTorch does not flip the kernel?",
                 "The kernel is learned: the network simply learns the flipped weights; the flip only matters for "
                 "hand-designed kernels."),
            Note("## 2 · Hand-made kernels", 5,
                 "Before learning, people designed kernels: Sobel edges, a Gaussian blur, sharpen. Point out the "
                 "sums: edge kernels sum to 0 (flat regions give 0), blur and sharpen to 1 (flat regions keep "
                 "their value). The figure shows each map on one real digit.",
                 "On the vertical-edge map, why is one side of each stroke red and the other blue?",
                 "Left edge of a stroke: dark to bright, a positive response; right edge: bright to dark, negative."),
            Note("## 3 · Learning a kernel", 5,
                 "Turn it around: from input/output pairs only, gradient descent on the mean squared error recovers "
                 "the unknown 3×3 kernel — the loss is quadratic in 9 weights. With targets from a true "
                 "(flipped) convolution, the learned kernel comes out rotated by 180°.",
                 "Why can gradient descent find the kernel exactly here, when it cannot in a deep network?",
                 "The loss is a convex quadratic with a single minimum (the input windows span all 9 directions); a "
                 "deep network's loss is not convex."),
            Note("## 4 · Padding, stride and dilation", 6,
                 "Give the formula once, boxed: ⌊(n + 2p − d(k−1) − 1)/s⌋ + 1, and check it on the table against "
                 "the from-scratch loop. 'Same' padding for odd k is p = (k−1)/2; stride 2 halves the size. The "
                 "slider demo in the notebook shows the taps moving.",
                 "A 28×28 input, a 7×7 kernel, padding 3, stride 2: what size comes out?",
                 "⌊(28 + 6 − 6 − 1)/2⌋ + 1 = 13 + 1 = 14 — ResNet's first layer halves the image."),
            Note("## 5 · Several input and output channels", 5,
                 "One kernel per input channel for every output channel, summed, plus a bias: the weight tensor "
                 "is (c_out, c_in, k, k). The table shows that parameters do not depend on the image size but the "
                 "multiplications grow with the output area.",
                 "How many parameters has `nn.Conv2d(3, 64, 3)`?",
                 "64·3·9 + 64 = 1,792 (the table's VGG-16 first layer) — whatever the image size."),
            Note("## 6 · Pooling", 5,
                 "Pooling slides a window like a convolution but has no weights: max or mean. PyTorch's stride "
                 "defaults to the window size, so 2×2 pooling halves height and width. The receptive-field "
                 "subslide follows one output pixel of SmallCNN back to a 10×10 input patch, checked with autograd.",
                 "How many trainable parameters does `nn.MaxPool2d(2)` have?",
                 "None: pooling has no weights; it only changes the size (and the receptive field's growth)."),
            Note("## 7 · Convolution vs fully connected", 5,
                 "Same output shape three ways: fully connected 4.9 million parameters, locally connected 62,720, "
                 "convolution 80. Locality cuts 79-fold, weight sharing another 784-fold, and the multiplications "
                 "drop with locality alone.",
                 "Which of the two ideas, locality or weight sharing, reduces the number of multiplications?",
                 "Locality: the locally connected and the convolution layer do the same 56,448 multiplications; "
                 "sharing only reduces the parameters."),
            Note("## 8 · Training a small CNN", 7,
                 "SmallCNN puts it together: two conv-ReLU-pool stages and one linear layer, 9,098 parameters, "
                 "7,850 of them in the linear layer. Show the learning curves and the headline accuracy, then what "
                 "the first layer learned: edge detectors like section 2's, found by training.",
                 "Where do most of SmallCNN's 9,098 parameters sit?",
                 "In the final linear layer: 784·10 + 10 = 7,850; the two conv layers have 80 and 1,168."),
            Note("## 9 · Common mistakes", 6,
                 "Three bugs: shapes that shrink without padding (the linear layer expects 784, gets 400), "
                 "`view(-1, 784)` silently gluing two images into one row, and normalisation constants typed by "
                 "hand — which raise no error at all.",
                 "Why is `torch.flatten(x, 1)` safer than `x.view(-1, 784)`?",
                 "It keeps the batch dimension, so a wrong feature length fails at the next linear layer instead "
                 "of silently producing a different number of rows."),
            Note("## Summary", 2,
                 "Recap the one formula to remember (output size) and the parameter count c_out·c_in·k² + c_out; "
                 "the rest follows from them.",
                 "What is the output size of a 3×3 convolution with padding 1, stride 1, on a 28×28 image?",
                 "28×28: 'same' padding."),
            Note("## Exercises", 1,
                 "Five exercises: four auto-graded functions (output size, parameters, im2col as one matrix product, "
                 "max pooling by reshape) and one written answer. Each test cell runs in well under a second.",
                 "Which exercise would you start with?",
                 "Exercise 1: the output-size formula is one line and the others reuse the same ideas."),
        ],
        fits=[
            Fit("Read the table row by row. The typo raises no error", slide_type="subslide"),
            Fit("## 2 · Hand-made kernels on a real digit", split_at="| kernel | weights | responds to |"),
            Fit("**Fix:** work the size out with the formula", slide_type="subslide"),
        ],
    ),
    "02_one_by_one_convolutions": Deck(
        notes=[
            Note("# 02 · 1×1 convolutions", 2,
                 "A 1×1 convolution sounds useless — it sees one pixel — yet GoogLeNet, ResNet and MobileNet are full "
                 "of them. Today: what it computes, what a 1×1 bottleneck saves, and every count checked three ways "
                 "and timed.",
                 "What can a kernel that sees a single pixel possibly do?",
                 "Mix the channels: at every pixel it maps the c_in channel values to c_out new ones — a fully "
                 "connected layer applied at every pixel."),
            Note("## Learning goals", 1,
                 "Five goals: the 1×1 conv as a matrix product, counting multiplications (the famous 120 million vs "
                 "12 million), three independent counts plus a timing, choosing a width, and the 1×1 convs inside "
                 "the big networks.",
                 "Why check a multiplication count three ways?",
                 "Hand-typed numbers slip (the notebook's own example: 12,433,648 for 12,443,648); three independent "
                 "counts that agree catch it."),
            Note("## 1. A 1×1 convolution", 7,
                 "At each pixel the c_in values go through the same W (c_out × c_in); stack the pixels as columns "
                 "and the whole layer is one matrix product Y = WX. The code proves it against `nn.Conv2d(kernel_size=1)` "
                 "and `nn.Linear` on channels-last; the picture highlights one pixel's column.",
                 "With X reshaped to (c_in, H·W), what shape is W and what shape is Y?",
                 "W is (c_out, c_in); Y is (c_out, H·W) — one output column per pixel."),
            Note("## 2. What a 1×1 bottleneck saves", 8,
                 "Multiplications = k²·H·W·c_in·c_out. For 28×28×192 → 32 with a 5×5 kernel: 120,422,400 directly, "
                 "12,443,648 with a 1×1 reduction to 16 channels first — 9.7× fewer. Then the timing: forward plus "
                 "backward, medians of several rounds — the measured speed-up on this device is smaller than the "
                 "MAC ratio.",
                 "For training, which should we time: the forward pass alone, or forward and backward — and why?",
                 "Forward and backward: training runs both, and the backward pass costs about two convolutions "
                 "(gradients for the input and for the weights)."),
            Note("## 3. How wide should the bottleneck be?", 6,
                 "The bottleneck's cost is linear in its width b: 777,728·b multiplications here, so it only pays "
                 "while b < 154.8. The figure shows cost, parameters and time against the width; GoogLeNet picked "
                 "b = 16 for this branch.",
                 "What do you lose by making b very small, say 2?",
                 "Information: all 192 channels must squeeze through 2 channels at every pixel; the cost keeps "
                 "falling, and accuracy is likely to suffer (not measured here)."),
            Note("## 4. Raising and lowering channels", 6,
                 "A 1×1 conv changes only the channel count, never H×W: lower before an expensive conv, raise back "
                 "after it, or project a ResNet shortcut. Without a ReLU in between, two 1×1 convs collapse into one "
                 "— the code shows it exactly. Network in Network builds whole classifiers from them.",
                 "Two stacked 1×1 convs 192→64→32 without a ReLU: how many parameters does the equivalent single "
                 "layer need?",
                 "192·32 + 32 = 6,176 (the stacked pair has 14,432): without a nonlinearity the extra layer buys "
                 "nothing."),
            Note("## 5. Where the big networks use them", 5,
                 "GoogLeNet's inception(3a) has four 1×1 convs: its own branch, the two reductions and the pool "
                 "projection — its 5×5 branch is exactly our example. ResNet-50's bottleneck lowers 256→64 and "
                 "raises back, for the cost of a basic block at width 64.",
                 "In ResNet's bottleneck block, which layer does the spatial work?",
                 "Only the 3×3 conv, on 64 channels; the two 1×1 convs just change the width."),
            Note("## Common mistakes", 4,
                 "Five slips: typing a count instead of computing it, reshaping to pixels × channels without moving "
                 "the channels last, reading FlopCounterMode's FLOPs as multiplications, forgetting padding=2 on "
                 "the 5×5 conv, and timing a single first call.",
                 "FlopCounterMode reports 241 million for the direct 5×5 conv: how many multiplications is that?",
                 "About half, 120,422,400: it counts each multiply–accumulate as 2 FLOPs."),
            Note("## Summary", 2,
                 "The three formulas to keep: Y = WX per pixel, k²·H·W·c_in·c_out MACs (FLOPs = 2×), and the "
                 "break-even width k²c_in·c_out/(c_in + k²c_out).",
                 "Where would you put a 1×1 conv to make a 5×5 conv on 256 channels cheaper?",
                 "Right before it, reducing the 256 channels to a narrow width (well under the break-even)."),
            Note("## Exercise 1", 1,
                 "Six exercises: four auto-graded functions (a strided bottleneck's cost, break-even width, a batched 1×1 conv, "
                 "ResNet bottleneck parameters) and two written ones that use your own measurements.",
                 "Which exercise needs your own timing numbers?",
                 "Exercise 5: the speed-up measured on your device, compared with the MAC ratio."),
        ],
        fits=[
            Fit('inception_3a = [("1×1 branch"', add_tags=("remove-input",)),
        ],
    ),
    "03_inception": Deck(
        notes=[
            Note("# 03 · The Inception module", 2,
                 "Instead of choosing a kernel size, Inception runs several side by side and lets training decide. "
                 "Today we build the block, trace every shape, count its cost and train it against notebook 01's "
                 "SmallCNN under one protocol.",
                 "If you had to pick one kernel size for a digit classifier, 3×3 or 5×5 — how would you choose?",
                 "You cannot know in advance: the right size depends on the pattern's scale, which varies — "
                 "Inception's answer is to use both (and 1×1 and pooling)."),
            Note("## Learning goals", 1,
                 "Six goals: why parallel branches, shapes through InceptionA (16 + 24 + 24 + 24 = 88 channels), "
                 "reading InceptionNet's summary (97,298 parameters, 6.0 M MACs), a fair training comparison, "
                 "GoogLeNet's inception (3a) with and without reductions, and four bugs to recognise (a shared 1×1, "
                 "pooling's default stride, a mistyped keyword, a missing ReLU).",
                 "What must be true of all four branches' outputs so they can be concatenated?",
                 "Same batch size and the same H×W; only the channel counts may differ."),
            Note("## 1 · Why several kernel sizes", 5,
                 "The branches see receptive fields of 1, 5, 5 (two 3×3) and 3 pixels; the table computes "
                 "r = 1 + Σ(k − 1). The diagram shows the four branches and their 1×1 reductions.",
                 "Two stacked 3×3 convs see a 5×5 window — why prefer them to one 5×5?",
                 "Fewer weights (2·9 = 18 instead of 25 per channel pair) and an extra nonlinearity in between."),
            Note("## 2 · `InceptionA`, branch by branch", 8,
                 "The slide shows the package's class (the notebook has it verbatim): four `nn.Sequential` branches, "
                 "each conv followed by a ReLU, and a `forward` that concatenates along dim 1. Then the per-branch "
                 "shapes on a 10×12×12 input: H×W never changes because stride is 1 and padding (k − 1)/2.",
                 "What goes wrong if the pool branch uses `avg_pool2d` with its default stride?",
                 "The stride defaults to the kernel size (3): the pool branch comes out 4×4 instead of 12×12 and "
                 "`torch.cat` fails."),
            Note("## 3 · `InceptionNet`", 6,
                 "Two Inception blocks between 5×5 convs on MNIST: 97,298 parameters. `cu.summary` gives the "
                 "torchsummary table plus correct totals; per part, the first Inception block and conv2 take over "
                 "90 % of the 6.0 M MACs, and the 1×1 convs are almost free.",
                 "Why does conv2 cost as much as the whole first Inception block?",
                 "It is a 5×5 conv reading all 88 channels of the 12×12 grid and producing 8×8×20: 64·25·88·20 = 2.8 M "
                 "MACs — cost grows with k²·c_in·c_out·H·W."),
            Note("## 4 · Train it", 8,
                 "State the protocol first: same data and batches, same optimiser and schedule, each network's "
                 "learning rate chosen the same way on a 20 % validation split. Then read the table as a trade: 10× "
                 "the parameters and 20× the MACs for the accuracy gap shown, from one seed. The branch maps show "
                 "what each branch produces on one digit.",
                 "Why must each network get its own learning rate, chosen the same way?",
                 "A rate that suits one network can cost the other several points; choosing each on validation "
                 "compares the networks, not the learning rate."),
            Note("## 5 · GoogLeNet's Inception block", 7,
                 "Inception (3a) on 28×28×192 returns 256 channels; the 3×3 and 5×5 branches start with 1×1 "
                 "reductions. By formula and by FlopCounterMode's count, the reductions cut the block's parameters and MACs by "
                 "2.4×, and the 5×5 branch by almost 10× — notebook 02's example.",
                 "The 'naive' module without reductions outputs 416 channels instead of 256 — why does that matter "
                 "for the next layer?",
                 "The next block reads all 416 channels, so its cost grows too: the naive design gets more "
                 "expensive with every block stacked."),
            Note("## 6 · Common mistakes", 8,
                 "Four mistakes: one 1×1 module reused in three branches (shared weights — fewer parameters, same "
                 "compute, a different network), `avg_pool2d` with the default stride, a mistyped keyword "
                 "(`stroke=1`), and forgetting the ReLUs — which changes no shape and no count, yet makes the block "
                 "one affine map.",
                 "Without ReLUs, why do the parameter and MAC counts not change?",
                 "ReLU has no parameters and no multiplications; it only makes the block nonlinear — which no "
                 "count shows, but the linearity check does."),
            Note("## Summary", 2,
                 "Parallel branches, concatenated on dim 1; every branch keeps H×W; 1×1 reductions keep the cost in "
                 "check; compare networks under one protocol and read accuracy against cost.",
                 "What are the output channels of GoogLeNet's (3a)?",
                 "64 + 128 + 32 + 32 = 256."),
            Note("## Exercises", 1,
                 "Five exercises: three auto-graded (InceptionA's MACs, the break-even reduction, factorising the "
                 "5×5 branch) and two written (why project the pool branch; design or size?).",
                 "Which exercise asks you to question today's comparison?",
                 "Exercise 5: is the accuracy gain the Inception design or just a bigger network?"),
        ],
        fits=[
            Fit('"branch1x1    1x1": [(1, 1)]', add_tags=("remove-input",)),
            Fit("class InceptionA(nn.Module):",
                excerpt=(("class InceptionA(nn.Module):", "class InceptionA"), ("def __init__(", "def __init__("),
                         ("self.branch1x1 = ", "return torch.cat"))),
            Fit("x = torch.randn(2, 10, 12, 12)  # a batch of 2", add_tags=("remove-input",)),
            Fit("The 1×1 branch can only recombine the 10 input channels", slide_type="subslide"),
            Fit("y_scratch = torch.empty(", add_tags=("slide-compact",),
                excerpt=(("outs = [block.branch1x1(x)", "y = block(x)"), ('print(" + ".join', 'print(" + ".join'))),
            Fit('NETWORKS = {"SmallCNN"', slide_type="subslide", add_tags=("slide-compact",),
                excerpt=(("NETWORKS = {", '+ f" -> {chosen'),)),
            Fit("params = {name: cu.count_params(model) for name, model in trained.items()}",
                add_tags=("remove-input",)),
            Fit('"(3a) with 1x1 reductions": GoogLeNetInception(', add_tags=("remove-input",)),
            Fit('[("1×1 conv+ReLU, 64", "1x1")]', remove_tags=("slide-compact",), slide_type="subslide"),
            Fit("def without_relus(module: nn.Module)", add_tags=("slide-compact",),
                excerpt=(("def without_relus", "# a copy of `module`"), ("torch.manual_seed(0)", 'print(f"{label:<24}'))),
            Fit("class SharedReduceInception(nn.Module):", add_tags=("slide-compact",),
                excerpt=(("class SharedReduceInception", "class SharedReduceInception"),
                         ("def __init__(self, in_channels: int)", "return torch.cat("))),
            Fit("**Fix:** a ReLU after every convolution of every branch", slide_type="subslide"),
        ],
    ),
    "04_residual_blocks": Deck(
        notes=[
            Note("# 04 · Residual blocks", 2,
                 "Deeper should never be worse at training — yet it is. Today: the degradation problem, the residual "
                 "block that fixes it, the shape rule for its shortcut, and a measurement of gradients through 41 "
                 "layers with and without skips.",
                 "If a 20-layer network trains well, what is the worst a 56-layer one could do on the training set?",
                 "In principle no worse: it could copy the 20 layers and make the other 36 the identity."),
            Note("## Learning goals", 1,
                 "Five goals: the degradation problem, the one-line gradient argument ∂(F(x) + x)/∂x = ∂F/∂x + I, "
                 "the block and its shape rule, SimpleResNet on MNIST (41,514 parameters), and gradient flow "
                 "measured layer by layer.",
                 "Which goal is about optimisation rather than capacity?",
                 "The degradation problem and the gradient argument: the deep network can represent the solution; "
                 "the optimiser does not find it."),
            Note("## 1 · The degradation problem", 7,
                 "He et al.: a 56-layer plain net has a higher training error than a 20-layer one. Our reference "
                 "runs (3 seeds, loaded from the committed results — read the provenance line) show the same pattern "
                 "within a short, unconverged schedule: plain-56 ends far above plain-8, residual-56 does not — but "
                 "plain-56 was still falling in the last epoch (the printed reading says by how much), so the run "
                 "cannot say whether the gap lasts. Plain and residual nets of a depth start from the same shared "
                 "weights. Then the gradient argument, checked with autograd on a tiny branch.",
                 "Is a higher training error for the deeper net a sign of overfitting?",
                 "No: overfitting lowers the training error and raises the test error; here the training error "
                 "itself is higher — an optimisation problem."),
            Note("## 2 · The residual block", 6,
                 "A residual block adds its input back before the last ReLU: y = ReLU(F(x) + x), with F two 3×3 "
                 "convs. The shortcut has no parameters and costs one addition per value. The diagram puts the "
                 "plain and the residual block side by side; the class on the slide is the package's.",
                 "What does the block compute if training drives F's weights to zero?",
                 "ReLU(x): (nearly) the identity — 'do nothing' is the easy default."),
            Note("## 3 · The shape rule", 6,
                 "F(x) + x is element-wise, so F(x) must have x's shape. More channels or stride 2 break the rule; "
                 "then the shortcut needs a 1×1 projection with the same stride. `course_utils` refuses to build a "
                 "block that could never add its paths, and says so; the projection costs 544 parameters here.",
                 "x is (1, 16, 14, 14); the branch has 32 channels and stride 2. What must the shortcut produce?",
                 "(1, 32, 7, 7): a 1×1 conv 16→32 with stride 2."),
            Note("## 4 · `SimpleResNet` on MNIST", 6,
                 "Two residual blocks in a small MNIST network, trained with and without the skip from the same "
                 "weights. Read this run's gap from the table: in this one-seed run the skip version learned "
                 "faster, but with only 6 conv layers the plain one is not stuck.",
                 "Both variants start from the same weights and see the same batches — why insist on that?",
                 "Then the skip is the only difference, and the gap in the table can be put down to it (for this "
                 "one seed)."),
            Note("## 5 · Gradient flow through 41 layers", 7,
                 "DeepConvStack: 41 conv layers, no normalisation. Without skips the first layer's gradient is "
                 "about 10⁻¹⁵ of the last one's and training stalls; with skips every layer gets a gradient of the "
                 "same order. This is vanishing gradients — the older cousin of the degradation problem.",
                 "On the log-scale plot, why is the plain stack's gradient norm close to a straight line?",
                 "Each layer shrinks it by a roughly constant factor (about 1/√6 with PyTorch's default "
                 "initialisation): a product of equal factors is a straight line on a log scale."),
            Note("## 6 · Common mistakes", 6,
                 "Three mistakes: adding tensors of different shapes (fix: a projection), modifying x in place "
                 "before the addition (the forward value may be right, backward breaks or the caller's tensor "
                 "changes), and placing the final ReLU elsewhere than after the sum.",
                 "Why does `x += out` inside a block break the backward pass?",
                 "conv1 saved x to compute its weight gradient; overwriting x in place changes that saved tensor, "
                 "and autograd refuses."),
            Note("## Summary", 2,
                 "A residual block learns F(x) = H(x) − x; the identity path carries the gradient; shapes must "
                 "match or be projected; measured: 10⁻¹⁵ without skips vs the same order with.",
                 "In one line, why does a skip help the gradient?",
                 "∂(F(x) + x)/∂x = ∂F/∂x + I: the I term passes the gradient through unchanged."),
            Note("## Exercises", 1,
                 "Five exercises: three auto-graded (block parameters, a parameter-free padding shortcut, zero-init "
                 "of the last BN or conv of each block) and two written, one with code on the initialisation.",
                 "Which exercises are written answers, to be argued with this notebook's measurements?",
                 "Exercises 4 and 5 (5 also asks for a little code)."),
        ],
        fits=[
            Fit("print(reference.degradation_conclusion(degradation))", slide_type="subslide"),
            Fit('degradation = reference.load_reference("degradation")', slide_type="subslide"),
            Fit("block = models.ResidualBlock(16, 32, stride=2, projection=True)", slide_type="subslide"),
            Fit("class ResidualBlock(nn.Module):",
                excerpt=(("class ResidualBlock(nn.Module):", "class ResidualBlock"), ("def __init__(", ") -> None:"),
                         ("self.in_channels, self.use_residual", "return F.relu(out)"))),
            Fit("Writing the sum into `x` (`x += out`)", slide_type="subslide"),
            Fit("def preact_wrong(block, x):", excerpt=(("def preact_wrong", "# a new tensor"), ("return x + block.conv2", "return x + block.conv2"))),
            Fit("class ReluPlacementBlock(ResidualBlock):", add_tags=("slide-compact",),
                excerpt=(("class ReluPlacementBlock", "class ReluPlacementBlock"),
                         ("def forward(self, x):", "return x + F.relu(fx)")), slide_type="subslide"),
            Fit("**after the sum** (ResNet, torchvision)", slide_type="subslide"),
        ],
    ),
    "05_resnet18_shortcuts": Deck(
        notes=[
            Note("# 05 · ResNet18", 2,
                 "ResNet18 from basic blocks: we predict its shapes and its 11.2 million parameters, prove it is "
                 "torchvision's network, and measure — with identical starting weights — what its shortcuts do to "
                 "training.",
                 "How would you prove that your ResNet18 is the same network as torchvision's?",
                 "Load torchvision's weights into yours and compare the outputs on the same input (in eval mode): "
                 "they must agree to the last bit."),
            Note("## Learning goals", 1,
                 "Six goals: the basic block with a `use_residual` switch, the shapes through stem and stages, the "
                 "summaries with and without shortcuts, equivalence with torchvision, a fair training comparison, "
                 "and the reference results that go beyond a quick run.",
                 "Where will the parameter difference between the two variants live?",
                 "In the three 1×1 projection shortcuts (plus their BN) — the identity shortcuts have none."),
            Note("## 1 · The basic block", 6,
                 "Conv-BN-ReLU-conv-BN plus the shortcut, ReLU after the sum; a 1×1 projection with BN where the "
                 "shape changes. Count the parameters by formula: no conv biases, two BN parameters per channel.",
                 "Why do the convolutions in the block have no bias?",
                 "The BatchNorm right after each conv subtracts the mean and has its own shift β: a bias would be "
                 "cancelled."),
            Note("## 2 · ResNet18: a stem, four stages, a head", 6,
                 "Stem (7×7/2 conv, max-pool /2), four stages of two blocks at 64, 128, 256, 512 channels, global "
                 "average pool and a linear head: 1 + 16 + 1 = 18 layers with weights. On a 32×32 input the stem "
                 "leaves 8×8 and `layer4` works on 1×1.",
                 "What spatial size reaches `layer4` for a 224×224 ImageNet image?",
                 "7×7: 224 / 4 (stem) / 2 / 2 / 2 = 7."),
            Note("## 3 · Summaries", 5,
                 "`cu.summary` counts 11,175,434 parameters with shortcuts and 11,001,610 without; the difference, "
                 "173,824, is exactly the three projections with their BN. The MACs differ by the projections only.",
                 "How much of ResNet18's compute do the shortcuts cost?",
                 "About 1 %: 393,216 of 35.4 M MACs per image (and the identity shortcuts one addition per value)."),
            Note("## 4 · It is torchvision's ResNet18", 5,
                 "Rename torchvision's tensors, load them into ours, randomise every BN's statistics and affine "
                 "parameters so a misplaced tensor would show, and compare in eval mode: the largest difference is exactly 0.",
                 "Why randomise the BatchNorm running statistics before comparing?",
                 "Fresh BN layers are all identical (γ=1, β=0, mean 0, variance 1): a BN tensor loaded into the wrong "
                 "layer, or not loaded at all, would go unnoticed."),
            Note("## 5 · Train both variants", 8,
                 "Change one thing only: the plain net gets a copy of every weight it shares with the residual one, "
                 "same batches, same optimiser. The live run is one seed and a few dozen steps — a demonstration; "
                 "the reference runs (3 seeds, to the end of a short schedule, not converged) are the evidence: read their printed "
                 "reading, per dataset.",
                 "Why is a shared random seed not enough to give both nets the same starting weights?",
                 "The residual net's projections consume random numbers, so every later layer's draw shifts; only "
                 "copying the shared tensors makes them identical."),
            Note("## 6 · Beyond ResNet18", 7,
                 "He et al.'s CIFAR-style nets at several depths, plain and residual: the reference sweep shows the "
                 "plain 56-layer net ending at a higher training error than the shallow ones, the residual one not. "
                 "The live sweep is a short demonstration of the same trend.",
                 "Why is the degradation problem not explained by overfitting?",
                 "It shows in the training error itself, which overfitting would lower."),
            Note("## 7 · Why: the gradient", 5,
                 "Unroll the residual stack: the gradient at layer l is the gradient at the top times (I + …) — the "
                 "identity carries it down directly, while a plain stack multiplies L − l Jacobians. The figure: "
                 "with BN, the plain nets' first-layer gradient grows with depth at initialisation (one seed), as "
                 "Yang et al. (2019) predict; the residual nets' grows far less.",
                 "The plain-56 net's first layer gets a larger gradient — so why does it train worse?",
                 "Size is not usefulness: a product of 54 Jacobians gives large, poorly informative gradients; the "
                 "identity path gives a direct, well-conditioned one."),
            Note("## Common mistakes", 4,
                 "Three: comparing runs that saw different batches (a DeviceLoader reshuffles every pass), comparing "
                 "a model still in train() mode (BatchNorm uses batch statistics), and loading torchvision's weights "
                 "into the plain variant — `course_utils` says why it cannot fit.",
                 "Ours in train() mode differs from torchvision in eval() by 2.3 — is the weight loading broken?",
                 "No: in train() mode BatchNorm normalises with the batch's statistics; in eval() mode both agree "
                 "exactly."),
            Note("## Summary", 2,
                 "Basic block plus shortcut; projections only where the shape changes (173,824 parameters); ours is "
                 "torchvision's network; the shortcuts' benefit is measured over seeds, not asserted.",
                 "What is the one change between the two trained variants?",
                 "The shortcuts (and with them the three projections); weights, data and optimiser are shared."),
            Note("## Exercises", 1,
                 "Five exercises: a pre-activation block, a bottleneck block and its count, a stem for small images, "
                 "where the extra parameters live, and reading the depth sweep.",
                 "Which exercise changes what ResNet18 does to a 32×32 image first?",
                 "Exercise 3: a stem for small images, so the first stage does not start at 8×8."),
        ],
        fits=[
            Fit("class BasicBlock(nn.Module):",
                excerpt=(("class BasicBlock(nn.Module):", "class BasicBlock"), ("def __init__(", "return F.relu(out)"))),
            Fit('what = {"stem": "7x7/2 conv, BN, ReLU, 3x3/2 max-pool"', add_tags=("remove-input",)),
            Fit("without_shortcuts = ResNet18(use_residual=False)", add_tags=("slide-compact",), slide_type="subslide"),
            Fit('rows.append((name, f"{h.train_loss[-1]:.4f', add_tags=("remove-input",)),
            Fit("print(reference.shortcuts_reading(shortcuts))", slide_type="subslide"),
            Fit("print(reference.degradation_conclusion(degradation))", slide_type="subslide"),
        ],
    ),
    "06_cnn_zoo": Deck(
        notes=[
            Note("# 06 · The classic CNN zoo", 2,
                 "Seven landmark CNNs from LeNet-5 to MobileNet, side by side on MNIST: parameters, multiply–"
                 "accumulates, time and accuracy — and what upsampling to 224 px costs (49× per convolution) next to the spread "
                 "between architectures at 32 px (36× MobileNet → VGG19, 998× LeNet-5 → VGG19).",
                 "Which of these networks would you guess has the most parameters, and where do they sit?",
                 "VGG19 (about 140 million at 224 px), three quarters of them in its first linear layer."),
            Note("## Learning goals", 1,
                 "Five goals: count parameters by hand, count MACs and their dependence on image area, know which "
                 "networks run at any input size, train all of them honestly, and compare with the quoted numbers of an unpublished lab report.",
                 "Why might a network's cost grow 49× without any change to its architecture?",
                 "Its input grew from 32×32 to 224×224: every conv scales with the feature-map area, (224/32)² = 49."),
            Note("## 1 · The zoo", 4,
                 "Two decades of ideas in one table: conv + pool stacks (LeNet), big nets on GPUs with ReLU and "
                 "dropout (AlexNet), only 3×3 convs stacked deep (VGG), Inception blocks (GoogLeNet), shortcuts "
                 "(ResNet), depthwise separable convs (MobileNet).",
                 "Which idea in the table reduces compute rather than adding capacity?",
                 "MobileNet's depthwise separable convolutions (and GoogLeNet's 1×1 reductions)."),
            Note("## 2 · Parameters in the reference configuration", 6,
                 "The published networks with 1 input channel and 10 classes, counted by formula layer by layer. "
                 "Where do they live? In AlexNet and VGG, mostly in the first linear layer on the flattened map; "
                 "global average pooling removes it.",
                 "Why does VGG11's first linear layer hold so many weights?",
                 "It reads the flattened 512×7×7 map: 25,088 inputs × 4,096 outputs ≈ 103 million weights."),
            Note("## 3 · Native versions", 5,
                 "Digits padded to 32×32 so five halvings end at 1×1. Networks ending in global average pooling run "
                 "unchanged; AlexNet and VGG flatten, so their first linear layer changes — the only parameter "
                 "difference between reference and native versions.",
                 "Which zoo networks can run on a 32×32 and a 224×224 image without any change?",
                 "GoogLeNet, ResNet18 and MobileNet: global average pooling gives the classifier one value per "
                 "channel at any size."),
            Note("## 4 · Multiply–accumulates", 6,
                 "MACs per conv: output positions × kernel × input channels / groups × output channels; FLOPs are "
                 "about 2×. Going from 32 to 224 px costs 49× per convolution (about 43× for the zoo's reference "
                 "configurations against their native versions) — and the 224-px training set as float32 is 12 GB, 64× "
                 "the 28-px set.",
                 "Why is the zoo-wide factor about 43× rather than 49×?",
                 "Mostly AlexNet: its native version has a stride-2 stem, so its convolutions shrink only 14.7×. VGG's "
                 "classifier also shrinks less than 49× (120 M → 19 M MACs), and LeNet-5 is not upsampled at all."),
            Note("## 5 · Training every native model, honestly", 5,
                 "80/20 split, epoch chosen on validation only; AdamW with weight decay on weights only; early "
                 "stopping restores the best weights; same batches for every network. The test set only draws "
                 "curves.",
                 "Why must the epoch be chosen on validation, never on the test set?",
                 "Choosing on the test set makes its score an optimistic, selected number: it no longer measures "
                 "unseen data."),
            Note("## 6 · One table", 7,
                 "This run's table is a quick demonstration, one seed; the reference (up to a 4-epoch cap; 3 seeds "
                 "for most networks, one for AlexNet and the two VGGs; committed results) is the comparison: accuracy against MACs (seconds are not shown: the reference "
                 "CPU was shared), with its provenance line.",
                 "On the reference plot, what does it mean when two networks' error bars overlap?",
                 "Those seeds do not separate them: the ranking between the two is not established."),
            Note("## 7 · Side by side with a lab report", 5,
                 "An unpublished lab report (its numbers are quoted, not verified) trained what it calls the same seven "
                 "networks on an A100 at 224 px for 5 epochs; our numbers are at 32 px on this run's device, in quick "
                 "mode. Compare images per second and MACs, not seconds or accuracies: the setups differ.",
                 "Why compare images per second rather than the report's seconds for five epochs?",
                 "The setups differ (image size, epochs, device); images per second at least puts both runs on the "
                 "same unit, and the MACs column says how much work each image was."),
            Note("## 8 · Common mistakes", 5,
                 "Four: feeding 28×28 digits to a network built for 32×32, copying an ImageNet configuration "
                 "(3 channels, 1,000 classes), quoting FLOPs as MACs (39 G vs 19.6 G for VGG19), and choosing the "
                 "epoch on the test set.",
                 "'VGG19 costs 39 G' and 'VGG19 costs 19.6 G' — who is wrong?",
                 "Neither: one counts FLOPs, the other multiply–accumulates; always say which."),
            Note("## Summary", 2,
                 "Parameters live in the first linear layer of flattening networks; MACs scale with the image area; "
                 "global pooling makes a network size-independent; compare over seeds with the epoch chosen on "
                 "validation.",
                 "What single change makes the convolutions of VGG, GoogLeNet, ResNet18 and MobileNet 49× cheaper on "
                 "MNIST?",
                 "Training at the native 32×32 instead of upsampling to 224×224 (AlexNet's native stem differs: "
                 "14.7×; LeNet-5 is already 32 px)."),
            Note("## Exercises", 1,
                 "Exercise 1: VGG's parameters from its configuration list, by arithmetic only. The next slides hold "
                 "exercises 2–5.",
                 "What part of VGG's count changes with the input side?",
                 "Only the first linear layer (side·side·512 inputs)."),
            Note("### Exercise 2", 1,
                 "Depthwise separable convolution: the MACs of a full conv and of MobileNet's replacement; the ratio "
                 "is 1/C_out + 1/k².",
                 "Which network of the zoo is built from this convolution?",
                 "MobileNet (v1)."),
            Note("### Exercise 4", 1,
                 "An estimate from the MAC table: the report's VGG19 at 32 px if time followed MACs, and why the "
                 "real time would differ. Exercise 5 asks whether two single runs can rank two networks.",
                 "Which table of this notebook does exercise 4 start from?",
                 "The MAC table of section 4 (MACs at 224 px and at 32 px)."),
        ],
        fits=[
            Fit("ref = cu.count_params(entry.build(", add_tags=("remove-input",)),
            Fit("n_train = 60_000", add_tags=("remove-input",)),
            Fit('rows = [(r["network"], r["params"], r["macs"]', add_tags=("remove-input",), slide_type="subslide"),
            Fit('fig = plot.plot_reference_zoo(zoo', slide_type="subslide"),
            Fit("def error_range(values", slide_type="subslide"),
            Fit("REPORT = {  # registry key", add_tags=("remove-input",), slide_type="subslide"),
        ],
    ),
    "07_why_is_my_gpu_idle": Deck(
        notes=[
            Note("# 07 · Why is my GPU idle?", 2,
                 "The blog-post training loop leaves a GPU waiting most of the time. Today we measure where an "
                 "epoch's time goes and each technique `cu.fit` uses — every number measured on this machine, and "
                 "marked as an expectation where it is not.",
                 "When your GPU shows 30 % utilisation during training, what is it waiting for?",
                 "For Python: the data pipeline, the next kernel launch, or a synchronisation such as `loss.item()`."),
            Note("## Learning goals", 1,
                 "Four goals: run both loops on the same model and data and read the share of peak, explain idle "
                 "time, measure each fix (device-resident data, larger batches, bf16, channels_last, fewer syncs), "
                 "and time GPU code correctly.",
                 "Why measure on your own machine rather than quote a blog's speed-up?",
                 "The gains depend on the hardware: a CPU has no launch queue to keep full, GPUs differ in bf16 "
                 "support and bandwidth."),
            Note("## 1 · Two loops, one model", 8,
                 "The classic loop: per-image transforms, batch 64, fp32, `loss.item()` every step. `compare_loops` "
                 "trains two copies of the same weights on the same images and device; the tables give the speed-up, "
                 "time to a target accuracy and TFLOP/s. The committed CPU reference splits an epoch into data, "
                 "synchronisation and compute.",
                 "What must be the same in both runs for the speed-up to mean anything?",
                 "The model and its initial weights, the images, the epochs and the device; warm-up left out and "
                 "the device synchronised before the clock is read."),
            Note("## 2 · Device-resident data", 6,
                 "MNIST fits in any GPU's memory many times over: normalise once, keep it on the device, one "
                 "permutation per epoch, slice batches. The same pixels as the classic pipeline (its own shuffle "
                 "order); one pass over the data is about two orders of magnitude faster here.",
                 "When does this technique stop being possible?",
                 "When the dataset no longer fits in device memory (large images, ImageNet): then a fast, parallel "
                 "data pipeline is needed instead."),
            Note("## 3 · Larger batches, scaled learning rate", 6,
                 "Bigger batches mean fewer steps, launches and syncs per epoch; scale the learning rate (linear for "
                 "SGD, square root for Adam) and warm up. The table shows the trade: cheaper epochs, lower accuracy "
                 "per epoch, because one epoch is fewer updates.",
                 "Batch 32 → 512: by what factor does the square-root rule raise Adam's learning rate?",
                 "√16 = 4 (the table's 0.00071 → 0.0028)."),
            Note("## 4 · bf16 autocast", 7,
                 "bf16 keeps fp32's exponent (same range) with 7 mantissa bits: relative error at most 2⁻⁸. On an "
                 "H100 the datasheet gives 2× TF32 (the fp32 convolution default) and ~15× plain fp32 — not measured "
                 "here; autocast keeps reductions in fp32. The subslide adds channels_last "
                 "and measures all four combinations of precision and layout on this device.",
                 "Why is bf16 safer for training than fp16?",
                 "It has fp32's exponent range, so gradients and activations do not overflow or underflow; no loss "
                 "scaling is needed."),
            Note("## 6 · Fewer synchronisations", 5,
                 "A GPU queues work asynchronously; `.item()`, `print(loss)` or an `if` on a tensor make Python wait "
                 "for the queue to empty. On a CPU the two variants measure the same — there is no queue; on a GPU "
                 "we expect the difference to be the idle time (not measured here).",
                 "Which common line in a training loop forces a synchronisation every step?",
                 "`loss.item()` (or printing / comparing the loss tensor)."),
            Note("## 7 · How much of the hardware do we use?", 5,
                 "FLOPs per training image times images per second gives TFLOP/s, and its share of the device's "
                 "peak. Small networks are expected to reach a tiny share (not measured on a GPU): SmallCNN would "
                 "need about 150 million images per second to use a quarter of an H100.",
                 "Why do we expect a tiny network to use a big GPU poorly, however good the loop?",
                 "Too little work per kernel: launch overhead and memory traffic are expected to dominate, not "
                 "arithmetic."),
            Note("## Common mistakes", 5,
                 "Three mistakes that come with the fixes: dropping `.item()` but summing loss tensors that keep "
                 "their graphs alive, accumulating in bf16 (1,000 × 0.01 sums to 4.0), and forgetting the 2-pixel "
                 "padding for 32-pixel networks.",
                 "Adding 0.01 a thousand times in bf16 gives 4.0 — why does it stop growing?",
                 "With 8 significant bits, once the sum is about 4, adding 0.01 rounds back to the same number."),
            Note("## Summary", 2,
                 "Measure first; then device-resident data, larger batches with a scaled rate and warm-up, "
                 "channels_last, bf16 where it is native, and fewer syncs — each worth only what it measures on "
                 "your hardware.",
                 "Which of the fixes helped on this CPU?",
                 "Device-resident data (the data pass about 200× faster) and channels_last; larger batches make "
                 "epochs cheaper, but whether they reach an accuracy sooner was not measured."),
            Note("## Exercises", 1,
                 "Five exercises: three auto-graded (scaling a learning rate, Amdahl's law, time to accuracy) and "
                 "two written ones on your own measurements.",
                 "Which exercises need the numbers measured on your own machine?",
                 "The written ones, 4 and 5: why `.item()` costs nothing on your CPU, and where the classic "
                 "epoch's time went."),
        ],
        fits=[
            Fit("print(inspect.getsource(classic_train_epoch))", add_tags=("slide-compact",)),
            Fit("EPOCHS = 1 if QUICK else 2", add_tags=("remove-input",)),
            Fit("fig, ax = plt.subplots(figsize=(8, 2.2 + 0.8 * len(NAMES)))", add_tags=("remove-input",)),
            Fit("reference.show_reference(gpu_idle)", slide_type="subslide"),
            Fit("def round_to_bf16(x: torch.Tensor)", add_tags=("slide-compact",),
                excerpt=(("def round_to_bf16", "return rounded.view"), ('print(f"identical to', 'print(f"identical to'))),
            Fit("flop_rows = []", add_tags=("remove-input",)),
            Fit("peak, peak_text = measure.device_peak(DEVICE)", slide_type="subslide"),
        ],
    ),
}


# ----------------------------------------------------------------------------------------------------------------------
# Applying them
# ----------------------------------------------------------------------------------------------------------------------


def _slide_type(cell: dict) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _lines(text: str) -> list[str]:
    """nbformat's on-disk form of a source: lines that keep their newline."""
    return text.splitlines(keepends=True)


def notes_text(note: Note, total: int | None = None) -> str:
    """The markdown of one notes cell."""
    parts = []
    if total is not None:
        parts.append(f"**Timing:** about {total} minutes for the whole deck (each section's notes give its share).")
    parts += [f"**Say** ({note.minutes} min): {note.say}", f"**Ask the room:** {note.ask}",
              f"**Expected answer:** {note.answer}"]  # fmt: skip
    return "\n\n".join(parts)


def deck_minutes(deck: Deck) -> int:
    """The deck's total minutes: the sum of its sections'."""
    return sum(n.minutes for n in deck.notes)


def _notes_cell(text: str, heading: str) -> dict:
    """A notes cell with a stable id (nbformat 4.5 wants one): derived from its section's heading."""
    cell_id = "notes-" + hashlib.sha1(heading.encode("utf-8")).hexdigest()[:10]
    return {"cell_type": "markdown", "id": cell_id, "metadata": {"slideshow": {"slide_type": "notes"}, MARK: True},
            "source": _lines(text)}  # fmt: skip


def _excerpt_spec(source: str, ranges: tuple[tuple[str, str], ...], where: str) -> str:
    lines = source.splitlines()
    spans = []
    start = 0  # each range is looked for after the previous one
    for first, last in ranges:
        try:
            a = next(i for i in range(start, len(lines)) if first in lines[i])
            b = next(i for i in range(a, len(lines)) if last in lines[i])
        except StopIteration:
            raise ValueError(f"{where}: excerpt lines {first!r} … {last!r} not found in the cell") from None
        spans.append(f"{a + 1}-{b + 1}" if b > a else f"{a + 1}")
        start = b + 1
    return ", ".join(spans)


def _split(cells: list[dict], cell: dict, at: str, where: str) -> None:
    """Split a markdown cell before the line containing `at`; the second part opens a subslide. Already split
    (the line opens a cell): nothing to do."""
    lines = _source(cell).splitlines(keepends=True)
    k = next((i for i, line in enumerate(lines) if at in line), None)
    if k is None:
        raise ValueError(f"{where}: no line contains {at!r}")
    if k == 0:
        return
    if cell["cell_type"] != "markdown":
        raise ValueError(f"{where}: only markdown cells are split (code stays one cell; use an excerpt)")
    head = "".join(lines[:k]).rstrip("\n")
    tail = "".join(lines[k:])
    cell["source"] = _lines(head)
    new = {"cell_type": "markdown", "id": (cell.get("id") or "cell")[:50] + "-split",
           "metadata": {"slideshow": {"slide_type": "subslide"}}, "source": _lines(tail)}  # fmt: skip
    cells.insert(cells.index(cell) + 1, new)


def apply(nb: dict, deck: Deck, name: str) -> dict:
    """The notebook with the deck's notes and fits applied (idempotent)."""
    cells = [c for c in nb["cells"] if not c.get("metadata", {}).get(MARK)]
    for fit in deck.fits:
        if fit.split_at:  # found by the line it splits at (after the split, `contains` is in the first part only)
            hits = [c for c in cells if fit.split_at in _source(c)]
            if len(hits) != 1 or fit.contains not in _source(hits[0]) and not _source(hits[0]).startswith(fit.split_at):
                raise ValueError(f"{name}: no single cell holds {fit.contains!r} and then {fit.split_at!r}")
            _split(cells, hits[0], fit.split_at, f"{name}: {fit.contains!r}")
            continue
        hits = [c for c in cells if fit.contains in _source(c)]
        if len(hits) != 1:
            raise ValueError(f"{name}: {len(hits)} cells contain {fit.contains!r} (need exactly one)")
        meta = hits[0].setdefault("metadata", {})
        if fit.excerpt:
            meta["slide_excerpt"] = _excerpt_spec(_source(hits[0]), fit.excerpt, f"{name}: {fit.contains!r}")
        tags = [t for t in meta.get("tags", []) if t not in fit.remove_tags]
        tags += [t for t in fit.add_tags if t not in tags]
        if tags:
            meta["tags"] = tags
        else:
            meta.pop("tags", None)
        if fit.slide_type:
            meta.setdefault("slideshow", {})["slide_type"] = fit.slide_type
    out: list[dict] = []
    total = deck_minutes(deck)
    used: set[str] = set()
    missing = []
    first_slide = True
    for cell in cells:
        out.append(cell)
        if cell["cell_type"] != "markdown" or _slide_type(cell) != "slide":
            continue
        first = _source(cell).strip().splitlines()[0] if _source(cell).strip() else ""
        note = next((n for n in deck.notes if first.startswith(n.heading)), None)
        if note is None:
            missing.append(first)
            continue
        used.add(note.heading)
        out.append(_notes_cell(notes_text(note, total if first_slide else None), note.heading))
        first_slide = False
    if missing:
        raise ValueError(f"{name}: no speaker notes for the section(s) {missing}; add them to {__name__}")
    unused = [n.heading for n in deck.notes if n.heading not in used]
    if unused:
        raise ValueError(f"{name}: notes for headings no section slide has: {unused}")
    return {**nb, "cells": out}


def _dump(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Apply (or, with --check, check) the notes and fits; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.slide_notes", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, metavar="NOTEBOOK", help="default: every course notebook")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook would change")
    args = parser.parse_args(argv)
    paths = args.notebooks or course_notebooks()
    stale = []
    for path in paths:
        deck = DECKS.get(path.stem)
        if deck is None:
            print(f"slide_notes: {display_path(path)}: no notes in {__name__}; write them there first", file=sys.stderr)
            return 1
        text = path.read_text(encoding="utf-8")
        try:
            new = _dump(apply(json.loads(text), deck, path.name))
        except ValueError as exc:
            print(f"slide_notes: {exc}", file=sys.stderr)
            return 1
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
        print(f"{display_path(path)}: {len(deck.notes)} notes, {deck_minutes(deck)} minutes"
              + (" (would change)" if args.check and new != text else ""))  # fmt: skip
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
