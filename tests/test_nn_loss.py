"""tinygrad_be.nn.loss: the loss modules and their functional forms against torch.

Every expected value below was computed with torch 2.13 (float64) and pasted here: the loss for
each reduction and the gradient of the loss (summed for reduction="none") with respect to the
input. The K-dim cross-entropy, legacy size_average/reduce and a gradient check of l1_loss follow.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import tinygrad_be.nn.functional as F
from tinygrad_be import Tensor, gradcheck, nn

X = [[0.5, -1.25, 2.0], [1.5, 0.25, -0.75], [-2.0, 0.5, 1.0], [0.1, 0.2, 0.3]]
TARGETS = {
    "Y": np.array([2, 0, 1, 1]),
    "PROBS": np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0], [0.1, 0.1, 0.8], [0.0, 0.5, 0.5]]),
    "T": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.5]]),
    "B": np.array([[1.0, 1.0, 1.0], [2.0, -1.0, 0.5]]),
}
INPUTS = {
    "CrossEntropyLoss": X,
    "NLLLoss": None,  # log_softmax(X, 1), computed below
    "BCELoss": [[0.9, 0.2], [0.3, 0.6], [0.5, 0.01]],
    "BCEWithLogitsLoss": [[2.0, -1.0], [-0.5, 3.0], [0.0, -4.0]],
    "MSELoss": [[0.5, -1.0, 2.0], [3.0, 0.0, -0.5]],
    "L1Loss": [[0.5, -1.0, 2.0], [3.0, 0.0, -0.5]],
}
FUNCTIONAL = {
    "CrossEntropyLoss": F.cross_entropy,
    "NLLLoss": F.nll_loss,
    "BCELoss": F.binary_cross_entropy,
    "BCEWithLogitsLoss": F.binary_cross_entropy_with_logits,
    "MSELoss": F.mse_loss,
    "L1Loss": F.l1_loss,
}

# (module, options, reduction, torch's loss, torch's gradient of the (summed) loss) -- torch 2.13
# Targets are named in TARGETS: "Y" for CrossEntropy/NLL class indices unless "PROBS" is noted in
# the order the cases were generated (see _target below).
CASES = [
    (
        "CrossEntropyLoss",
        {},
        "mean",
        0.667458585770196,
        [
            [0.044205045526861074, 0.007681685081609108, -0.05188673060847018],
            [-0.07038991471223377, 0.05145915099941289, 0.01893076371282088],
            [0.007514721892393506, -0.15845194592954995, 0.15093722403715645],
            [0.07515240133893183, -0.16694375161666317, 0.09179135027773137],
        ],
    ),
    (
        "CrossEntropyLoss",
        {},
        "sum",
        2.669834343080784,
        [
            [0.1768201821074443, 0.030726740326436432, -0.20754692243388073],
            [-0.2815596588489351, 0.20583660399765155, 0.07572305485128351],
            [0.030058887569574023, -0.6338077837181998, 0.6037488961486258],
            [0.30060960535572734, -0.6677750064666527, 0.3671654011109255],
        ],
    ),
    (
        "CrossEntropyLoss",
        {},
        "none",
        [0.23262198310203266, 0.3306726094072241, 1.0045969023422834, 1.101942848229244],
        [
            [0.1768201821074443, 0.030726740326436432, -0.20754692243388073],
            [-0.2815596588489351, 0.20583660399765155, 0.07572305485128351],
            [0.030058887569574023, -0.6338077837181998, 0.6037488961486258],
            [0.30060960535572734, -0.6677750064666527, 0.3671654011109255],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"weight": [0.2, 1.0, 3.0]},
        "mean",
        0.552026965722898,
        [
            [0.10201164352352554, 0.017726965572944096, -0.11973860909646965],
            [-0.010829217648035966, 0.007916792461448137, 0.002912425186587828],
            [0.005780555301841158, -0.12188611225349995, 0.1161055569516588],
            [0.05780953949148602, -0.12841827047435628, 0.07060873098287028],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"weight": [0.2, 1.0, 3.0]},
        "sum",
        2.87054022175907,
        [
            [0.5304605463223329, 0.0921802209793093, -0.6226407673016422],
            [-0.05631193176978702, 0.04116732079953031, 0.015144610970256704],
            [0.030058887569574023, -0.6338077837181998, 0.6037488961486258],
            [0.30060960535572734, -0.6677750064666527, 0.3671654011109255],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"weight": [0.2, 1.0, 3.0]},
        "none",
        [0.697865949306098, 0.06613452188144482, 1.0045969023422834, 1.101942848229244],
        [
            [0.5304605463223329, 0.0921802209793093, -0.6226407673016422],
            [-0.05631193176978702, 0.04116732079953031, 0.015144610970256704],
            [0.030058887569574023, -0.6338077837181998, 0.6037488961486258],
            [0.30060960535572734, -0.6677750064666527, 0.3671654011109255],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"ignore_index": 1},
        "mean",
        0.28164729625462837,
        [
            [0.08841009105372215, 0.015363370163218216, -0.10377346121694037],
            [-0.14077982942446754, 0.10291830199882578, 0.03786152742564176],
            [0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"ignore_index": 1},
        "sum",
        0.5632945925092567,
        [
            [0.1768201821074443, 0.030726740326436432, -0.20754692243388073],
            [-0.2815596588489351, 0.20583660399765155, 0.07572305485128351],
            [0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"ignore_index": 1},
        "none",
        [0.23262198310203266, 0.3306726094072241, 0.0, 0.0],
        [
            [0.1768201821074443, 0.030726740326436432, -0.20754692243388073],
            [-0.2815596588489351, 0.20583660399765155, 0.07572305485128351],
            [0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"label_smoothing": 0.2},
        "mean",
        0.8382919191035294,
        [
            [0.027538378860194408, -0.008984981585057557, -0.018553397275136857],
            [-0.037056581378900444, 0.03479248433274622, 0.002264097046154212],
            [-0.009151944774273162, -0.12511861259621662, 0.1342705573704898],
            [0.05848573467226517, -0.13361041828332984, 0.07512468361106471],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"label_smoothing": 0.2},
        "sum",
        3.3531676764141176,
        [
            [0.11015351544077763, -0.03593992634023023, -0.07421358910054743],
            [-0.14822632551560178, 0.13916993733098487, 0.009056388184616848],
            [-0.036607779097092646, -0.5004744503848665, 0.5370822294819592],
            [0.2339429386890607, -0.5344416731333194, 0.30049873444425884],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"label_smoothing": 0.2},
        "none",
        [0.5492886497686993, 0.5640059427405575, 1.137930235675617, 1.101942848229244],
        [
            [0.11015351544077763, -0.03593992634023023, -0.07421358910054743],
            [-0.14822632551560178, 0.13916993733098487, 0.009056388184616848],
            [-0.036607779097092646, -0.5004744503848665, 0.5370822294819592],
            [0.2339429386890607, -0.5344416731333194, 0.30049873444425884],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"weight": [0.2, 1.0, 3.0], "label_smoothing": 0.1, "ignore_index": 0},
        "mean",
        0.5854228878541655,
        [
            [0.09910053010369503, 0.010786121838749229, -0.10988665194244426],
            [0.0, 0.0, 0.0],
            [0.004918915281138063, -0.11049868568005222, 0.10557977039891416],
            [0.06119346458065794, -0.11756386801173041, 0.05637040343107249],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"weight": [0.2, 1.0, 3.0], "label_smoothing": 0.1, "ignore_index": 0},
        "sum",
        2.927114439270828,
        [
            [0.4955026505184752, 0.05393060919374614, -0.5494332597122213],
            [0.0, 0.0, 0.0],
            [0.024594576405690318, -0.5524934284002612, 0.5278988519945709],
            [0.30596732290328976, -0.5878193400586521, 0.2818520171553625],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"weight": [0.2, 1.0, 3.0], "label_smoothing": 0.1, "ignore_index": 0},
        "none",
        [0.7789797653431061, 0.0, 1.0114474451026414, 1.1366872288250804],
        [
            [0.4955026505184752, 0.05393060919374614, -0.5494332597122213],
            [0.0, 0.0, 0.0],
            [0.024594576405690318, -0.5524934284002612, 0.5278988519945709],
            [0.30596732290328976, -0.5878193400586521, 0.2818520171553625],
        ],
    ),
    (
        "CrossEntropyLoss",
        {},
        "mean",
        0.9362085857701961,
        [
            [-0.005794954473138929, -0.0673183149183909, 0.07311326939152982],
            [-0.07038991471223377, 0.05145915099941289, 0.01893076371282088],
            [-0.017485278107606497, 0.06654805407045006, -0.04906277596284356],
            [0.07515240133893183, -0.041943751616663166, -0.03320864972226863],
        ],
    ),
    (
        "CrossEntropyLoss",
        {},
        "sum",
        3.7448343430807842,
        [
            [-0.023179817892555715, -0.2692732596735636, 0.29245307756611927],
            [-0.2815596588489351, 0.20583660399765155, 0.07572305485128351],
            [-0.06994111243042599, 0.26619221628180023, -0.19625110385137423],
            [0.30060960535572734, -0.16777500646665267, -0.1328345988890745],
        ],
    ),
    (
        "CrossEntropyLoss",
        {},
        "none",
        [1.5076219831020325, 0.3306726094072241, 0.8545969023422835, 1.051942848229244],
        [
            [-0.023179817892555715, -0.2692732596735636, 0.29245307756611927],
            [-0.2815596588489351, 0.20583660399765155, 0.07572305485128351],
            [-0.06994111243042599, 0.26619221628180023, -0.19625110385137423],
            [0.30060960535572734, -0.16777500646665267, -0.1328345988890745],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"weight": [0.2, 1.0, 3.0], "label_smoothing": 0.1},
        "mean",
        1.296069029099962,
        [
            [0.06872559509957582, -0.062037026926763376, -0.006688568172812429],
            [0.010808560625418526, 0.008133594986478792, -0.01894215561189732],
            [0.011928783650216898, 0.18961438086831042, -0.20154316451852727],
            [0.1441289919308611, 0.04029578853034012, -0.18442478046120114],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"weight": [0.2, 1.0, 3.0], "label_smoothing": 0.1},
        "sum",
        5.184276116399848,
        [
            [0.2749023803983033, -0.2481481077070535, -0.026754272691249716],
            [0.043234242501674104, 0.03253437994591517, -0.07576862244758928],
            [0.04771513460086759, 0.7584575234732417, -0.8061726580741091],
            [0.5765159677234444, 0.16118315412136047, -0.7376991218448046],
        ],
    ),
    (
        "CrossEntropyLoss",
        {"weight": [0.2, 1.0, 3.0], "label_smoothing": 0.1},
        "none",
        [1.4676224149845838, 0.37248190167697837, 1.3507360075068857, 1.9934357922314003],
        [
            [0.2749023803983033, -0.2481481077070535, -0.026754272691249716],
            [0.043234242501674104, 0.03253437994591517, -0.07576862244758928],
            [0.04771513460086759, 0.7584575234732417, -0.8061726580741091],
            [0.5765159677234444, 0.16118315412136047, -0.7376991218448046],
        ],
    ),
    (
        "NLLLoss",
        {},
        "mean",
        0.667458585770196,
        [[0.0, 0.0, -0.25], [-0.25, 0.0, 0.0], [0.0, -0.25, 0.0], [0.0, -0.25, 0.0]],
    ),
    (
        "NLLLoss",
        {},
        "sum",
        2.669834343080784,
        [[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, -1.0, 0.0]],
    ),
    (
        "NLLLoss",
        {},
        "none",
        [0.23262198310203266, 0.3306726094072241, 1.0045969023422834, 1.101942848229244],
        [[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, -1.0, 0.0]],
    ),
    (
        "NLLLoss",
        {"weight": [0.2, 1.0, 3.0], "ignore_index": 2},
        "mean",
        0.9875792147513508,
        [
            [0.0, 0.0, 0.0],
            [-0.09090909090909091, 0.0, 0.0],
            [0.0, -0.45454545454545453, 0.0],
            [0.0, -0.45454545454545453, 0.0],
        ],
    ),
    (
        "NLLLoss",
        {"weight": [0.2, 1.0, 3.0], "ignore_index": 2},
        "sum",
        2.172674272452972,
        [[0.0, 0.0, 0.0], [-0.2, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, -1.0, 0.0]],
    ),
    (
        "NLLLoss",
        {"weight": [0.2, 1.0, 3.0], "ignore_index": 2},
        "none",
        [0.0, 0.06613452188144482, 1.0045969023422834, 1.101942848229244],
        [[0.0, 0.0, 0.0], [-0.2, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, -1.0, 0.0]],
    ),
    (
        "BCELoss",
        {},
        "mean",
        0.6994603460262501,
        [
            [-0.1851851851851852, 0.2083333333333333],
            [0.2380952380952381, -0.2777777777777778],
            [-0.3333333333333333, -8.249158249158247],
        ],
    ),
    (
        "BCELoss",
        {},
        "sum",
        4.1967620761575,
        [
            [-1.1111111111111112, 1.2499999999999998],
            [1.4285714285714286, -1.6666666666666667],
            [-2.0, -49.49494949494949],
        ],
    ),
    (
        "BCELoss",
        {},
        "none",
        [
            [0.10536051565782628, 0.22314355131420976],
            [0.35667494393873234, 0.5108256237659907],
            [0.6931471805599453, 2.307610260920796],
        ],
        [
            [-1.1111111111111112, 1.2499999999999998],
            [1.4285714285714286, -1.6666666666666667],
            [-2.0, -49.49494949494949],
        ],
    ),
    (
        "BCELoss",
        {"weight": [2.0, 0.5]},
        "mean",
        0.6385258330522511,
        [
            [-0.3703703703703704, 0.10416666666666664],
            [0.4761904761904762, -0.1388888888888889],
            [-0.6666666666666666, -4.124579124579124],
        ],
    ),
    (
        "BCELoss",
        {"weight": [2.0, 0.5]},
        "sum",
        3.8311549983135063,
        [
            [-2.2222222222222223, 0.6249999999999999],
            [2.857142857142857, -0.8333333333333334],
            [-4.0, -24.747474747474744],
        ],
    ),
    (
        "BCELoss",
        {"weight": [2.0, 0.5]},
        "none",
        [
            [0.21072103131565256, 0.11157177565710488],
            [0.7133498878774647, 0.25541281188299536],
            [1.3862943611198906, 1.153805130460398],
        ],
        [
            [-2.2222222222222223, 0.6249999999999999],
            [2.857142857142857, -0.8333333333333334],
            [-4.0, -24.747474747474744],
        ],
    ),
    (
        "BCEWithLogitsLoss",
        {},
        "mean",
        0.6123585237987998,
        [
            [-0.01986715367035295, 0.04482357022833252],
            [0.0629234447996909, -0.007904312196261106],
            [-0.08333333333333333, -0.08033563167298474],
        ],
    ),
    (
        "BCEWithLogitsLoss",
        {},
        "sum",
        3.674151142792799,
        [
            [-0.11920292202211769, 0.2689414213699951],
            [0.3775406687981454, -0.047425873177566635],
            [-0.5, -0.48201379003790845],
        ],
    ),
    (
        "BCEWithLogitsLoss",
        {},
        "none",
        [
            [0.1269280110429725, 0.3132616875182228],
            [0.4740769841801067, 0.04858735157374206],
            [0.6931471805599453, 2.0181499279178094],
        ],
        [
            [-0.11920292202211769, 0.2689414213699951],
            [0.3775406687981454, -0.047425873177566635],
            [-0.5, -0.48201379003790845],
        ],
    ),
    (
        "BCEWithLogitsLoss",
        {"pos_weight": [3.0, 0.5]},
        "mean",
        0.7142450613720518,
        [
            [-0.05960146101105882, 0.04482357022833252],
            [0.0629234447996909, -0.003952156098130553],
            [-0.25, -0.03941839042140522],
        ],
    ),
    (
        "BCEWithLogitsLoss",
        {"pos_weight": [3.0, 0.5]},
        "sum",
        4.2854703682323105,
        [
            [-0.35760876606635295, 0.2689414213699951],
            [0.3775406687981454, -0.023712936588783318],
            [-1.5, -0.23651034252843134],
        ],
    ),
    (
        "BCEWithLogitsLoss",
        {"pos_weight": [3.0, 0.5]},
        "none",
        [
            [0.3807840331289175, 0.3132616875182228],
            [0.4740769841801067, 0.02429367578687103],
            [2.0794415416798357, 1.013612445938357],
        ],
        [
            [-0.35760876606635295, 0.2689414213699951],
            [0.3775406687981454, -0.023712936588783318],
            [-1.5, -0.23651034252843134],
        ],
    ),
    (
        "BCEWithLogitsLoss",
        {"weight": [2.0, 0.5], "pos_weight": [3.0, 0.5]},
        "mean",
        1.0906981704332408,
        [
            [-0.11920292202211764, 0.02241178511416626],
            [0.1258468895993818, -0.0019760780490652766],
            [-0.5, -0.01970919521070261],
        ],
    ),
    (
        "BCEWithLogitsLoss",
        {"weight": [2.0, 0.5], "pos_weight": [3.0, 0.5]},
        "sum",
        6.544189022599445,
        [
            [-0.7152175321327059, 0.13447071068499755],
            [0.7550813375962908, -0.011856468294391659],
            [-3.0, -0.11825517126421567],
        ],
    ),
    (
        "BCEWithLogitsLoss",
        {"weight": [2.0, 0.5], "pos_weight": [3.0, 0.5]},
        "none",
        [
            [0.761568066257835, 0.1566308437591114],
            [0.9481539683602134, 0.012146837893435515],
            [4.1588830833596715, 0.5068062229691785],
        ],
        [
            [-0.7152175321327059, 0.13447071068499755],
            [0.7550813375962908, -0.011856468294391659],
            [-3.0, -0.11825517126421567],
        ],
    ),
    (
        "MSELoss",
        {},
        "mean",
        1.375,
        [
            [-0.16666666666666666, -0.6666666666666666, 0.3333333333333333],
            [0.3333333333333333, 0.3333333333333333, -0.3333333333333333],
        ],
    ),
    ("MSELoss", {}, "sum", 8.25, [[-1.0, -4.0, 2.0], [2.0, 2.0, -2.0]]),
    (
        "MSELoss",
        {},
        "none",
        [[0.25, 4.0, 1.0], [1.0, 1.0, 1.0]],
        [[-1.0, -4.0, 2.0], [2.0, 2.0, -2.0]],
    ),
    (
        "L1Loss",
        {},
        "mean",
        1.0833333333333333,
        [
            [-0.16666666666666666, -0.16666666666666666, 0.16666666666666666],
            [0.16666666666666666, 0.16666666666666666, -0.16666666666666666],
        ],
    ),
    ("L1Loss", {}, "sum", 6.5, [[-1.0, -1.0, 1.0], [1.0, 1.0, -1.0]]),
    (
        "L1Loss",
        {},
        "none",
        [[0.5, 2.0, 1.0], [1.0, 1.0, 1.0]],
        [[-1.0, -1.0, 1.0], [1.0, 1.0, -1.0]],
    ),
]


def _input(name: str) -> np.ndarray:
    if name == "NLLLoss":
        x = np.array(X)
        shifted = x - x.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return np.array(INPUTS[name], dtype=np.float64)


def _target(name: str, case_index: int) -> np.ndarray:
    if name in ("CrossEntropyLoss", "NLLLoss"):
        # the CrossEntropyLoss cases with probability targets are the last two options (6 cases)
        ce_cases = [i for i, c in enumerate(CASES) if c[0] == "CrossEntropyLoss"]
        if name == "CrossEntropyLoss" and case_index in ce_cases[-6:]:
            return TARGETS["PROBS"]
        return TARGETS["Y"]
    return TARGETS["T"] if name.startswith("BCE") else TARGETS["B"]


def _options(options: dict) -> dict:
    return {k: (np.array(v) if isinstance(v, list) else v) for k, v in options.items()}


@pytest.mark.parametrize(
    "index", range(len(CASES)), ids=lambda i: f"{CASES[i][0]}-{CASES[i][2]}-{i}"
)
def test_loss_modules_match_torch(index):
    name, options, reduction, expected, expected_grad = CASES[index]
    x = Tensor(_input(name), requires_grad=True)
    loss = getattr(nn, name)(reduction=reduction, **_options(options))(x, _target(name, index))
    np.testing.assert_allclose(loss.detach().numpy(), expected, rtol=1e-12, atol=1e-14)
    (loss.sum() if reduction == "none" else loss).backward()
    np.testing.assert_allclose(x.grad.numpy(), expected_grad, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize(
    "index", range(len(CASES)), ids=lambda i: f"{CASES[i][0]}-{CASES[i][2]}-{i}"
)
def test_functional_forms_take_the_same_options(index):
    name, options, reduction, expected, _ = CASES[index]
    x = Tensor(_input(name))
    loss = FUNCTIONAL[name](x, _target(name, index), reduction=reduction, **_options(options))
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_loss_modules_default_to_mean_and_repr_like_torch():
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert nn.MSELoss().reduction == "mean" and nn.L1Loss().reduction == "mean"
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=3)
    assert (criterion.label_smoothing, criterion.ignore_index) == (0.1, 3)
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss(reduction="batchmean")


def test_class_weights_are_buffers_as_in_torch():
    # torch: nn.CrossEntropyLoss(weight=w).state_dict() == {"weight": w}; pos_weight likewise
    criterion = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0]))
    assert list(criterion.state_dict()) == ["weight"]
    assert criterion.parameters() == []
    assert list(nn.BCEWithLogitsLoss(pos_weight=np.array([3.0])).state_dict()) == ["pos_weight"]
    assert nn.CrossEntropyLoss().state_dict() == {}  # a None buffer is not saved (torch)


def test_legacy_size_average_and_reduce_map_as_torch():
    # torch: MSELoss(size_average=False) -> "sum", MSELoss(reduce=False) -> "none",
    # CrossEntropyLoss(None, False) -> "sum", L1Loss(True, True) -> "mean"; each with a warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert nn.MSELoss(size_average=False).reduction == "sum"
        assert nn.MSELoss(reduce=False).reduction == "none"
        assert nn.CrossEntropyLoss(None, False).reduction == "sum"
        assert nn.L1Loss(True, True).reduction == "mean"
    assert len(caught) == 4 and "will be deprecated" in str(caught[0].message)


def test_cross_entropy_per_position_and_unbatched_match_torch():
    z = np.sin(np.arange(24, dtype=np.float64)).reshape(2, 3, 2, 2)
    y = np.array([[[0, 1], [2, 1]], [[1, 1], [0, 2]]])
    per_position = F.cross_entropy(Tensor(z), y, reduction="none")
    np.testing.assert_allclose(
        per_position.numpy(),
        [[[1.42519581742280566, 2.39712184461442135], [1.88406549594982953, 0.58092859507666772]],
         [[1.62978412715795784, 2.39962163539844608], [0.43393553802443496, 2.10092928153036507]]],
        rtol=1e-12,
    )  # fmt: skip
    x = Tensor(z, requires_grad=True)
    loss = nn.CrossEntropyLoss(weight=np.array([0.2, 1.0, 3.0]))(x, y)
    loss.backward()
    np.testing.assert_allclose(loss.item(), 1.859064115940147, rtol=1e-12)
    np.testing.assert_allclose(
        x.grad.numpy()[0, :, 0, 0],
        [-0.01460651207554430, 0.00216953584350313, 0.01243697623204117],
        rtol=1e-10,
    )
    np.testing.assert_allclose(
        x.grad.numpy()[1, :, 1, 1],
        [0.15761269469970798, 0.09555768473854721, -0.25317037943825521],
        rtol=1e-10,
    )
    unbatched = F.cross_entropy(Tensor(np.array([0.5, -1.0, 2.0])), np.array(1))
    np.testing.assert_allclose(unbatched.item(), 3.241311296657157, rtol=1e-12)


def test_bad_shapes_are_refused_with_both_shapes_named():
    with pytest.raises(ValueError, match=r"l1_loss: input shape \(2, 3\) and target shape \(3,\)"):
        nn.L1Loss()(Tensor(np.zeros((2, 3))), np.zeros(3))
    with pytest.raises(ValueError, match=r"cross_entropy: target must have shape \(2, 4\)"):
        F.cross_entropy(Tensor(np.zeros((2, 3, 4))), np.zeros((2, 5), np.int64))


@given(
    data=arrays(np.float64, (3, 4), elements=st.floats(-2, 2)),
    offset=arrays(np.float64, (3, 4), elements=st.floats(0.1, 1.0)),
    sign=arrays(np.bool_, (3, 4)),
    reduction=st.sampled_from(["mean", "sum", "none"]),
)
def test_l1_loss_gradient_matches_finite_differences(data, offset, sign, reduction):
    # the target keeps at least 0.1 away from the input: |x - t| is smooth there
    target = data + np.where(sign, offset, -offset)
    x = Tensor(data, requires_grad=True)
    weighting = np.linspace(-1, 1, 12).reshape(3, 4) if reduction == "none" else None
    assert gradcheck(lambda a: F.l1_loss(a, target, reduction=reduction), x, grad_output=weighting)
    # the same input used twice in one graph (a node reused)
    assert gradcheck(lambda a: F.l1_loss(a * a, target) + F.l1_loss(a, target), x)
