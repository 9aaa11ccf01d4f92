#!/usr/bin/python3
"""Trains and exports the two neural example models in examples/models (fixed seeds, CPU, ~1 min):

  digits_cnn       a small CNN trained on scikit-learn's bundled digits (8x8 grey images, 10
                   classes); input `image: float32[batch,1,8,8]` (pixels 0..16), output `logits`.
  text_classifier  an Embedding + LSTM + Linear classifier trained on a small generated corpus
                   of support-ticket sentences (billing / technical / account / other); input
                   `tokens: int64[batch,seq]` (ids from vocab.txt, 0 = padding), output `logits`.

Each gets model.onnx (opset 13, dynamic batch), a README.md saying where it came from, and an
example input; the held-out accuracy is printed and written to the README.

    /usr/bin/python3 tools/make_examples.py
"""
import os
import random

import numpy as np
import torch
from torch import nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "examples", "models")


def digits():
    from sklearn.datasets import load_digits
    torch.manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 1, 8, 8).astype(np.float32)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(X))
    tr, te = idx[:1500], idx[1500:]
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(X[tr] / 16.0), torch.from_numpy(y[tr])
    for epoch in range(25):
        perm = torch.randperm(len(xt))
        model.train()
        for i in range(0, len(xt), 64):
            b = perm[i:i + 64]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xt[b]), yt[b])
            loss.backward()
            opt.step()
    model.eval()

    class Scaled(nn.Module):  # takes raw 0..16 pixels, as sklearn stores them
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, image):
            return self.m(image / 16.0)

    full = Scaled(model).eval()
    with torch.no_grad():
        acc = (full(torch.from_numpy(X[te])).argmax(1).numpy() == y[te]).mean()
    d = os.path.join(OUT, "digits_cnn")
    torch.onnx.export(full, torch.from_numpy(X[:2]), os.path.join(d, "1", "model.onnx"),
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
    np.save(os.path.join(d, "example_input.npy"), X[te[:4]])
    np.save(os.path.join(d, "example_labels.npy"), y[te[:4]].astype(np.int64))
    with open(os.path.join(d, "README.md"), "w") as f:
        f.write(f"""# digits_cnn

A small CNN (3 conv layers with BatchNorm, ReLU, max and global average pooling, one linear
layer) trained by `tools/make_examples.py` on scikit-learn's bundled digits data set (1,797 8x8
grey images of handwritten digits; 1,500 for training), 25 epochs of Adam, seed 0, exported by
torch 1.13 at opset 13. Held-out accuracy on the other 297 images: {acc:.3f}.

Input `image: float32[batch,1,8,8]` with pixel values 0..16 as sklearn stores them; output
`logits: float32[batch,10]` (argmax = digit). `example_input.npy` holds four held-out images,
`example_labels.npy` their digits.
""")
    return acc


WORDS = {
    "billing": ["invoice", "charge", "charged", "refund", "payment", "bill", "card", "price", "paid", "twice"],
    "technical": ["error", "crash", "crashes", "bug", "slow", "broken", "loading", "timeout", "app", "screen"],
    "account": ["password", "login", "reset", "email", "username", "locked", "account", "profile", "sign", "verify"],
    "other": ["hours", "office", "holiday", "address", "thanks", "hello", "question", "opening", "team", "weekend"],
}
FILLER = ["my", "the", "is", "i", "was", "please", "help", "why", "with", "a", "on", "can", "you", "it", "not", "me"]


def text():
    random.seed(0)
    torch.manual_seed(0)
    classes = list(WORDS)
    vocab = ["<pad>", "<unk>"] + sorted({w for ws in WORDS.values() for w in ws} | set(FILLER))
    ids = {w: i for i, w in enumerate(vocab)}
    seq = 12

    def sentence(c):
        words = random.sample(WORDS[c], 2) + random.sample(FILLER, random.randint(2, 6))
        if random.random() < 0.3:  # a distractor word from another class
            words.append(random.choice(WORDS[random.choice(classes)]))
        random.shuffle(words)
        return words

    def encode(words):
        t = [ids.get(w, 1) for w in words][:seq]
        return t + [0] * (seq - len(t))

    data = [(encode(sentence(c)), k) for _ in range(1500) for k, c in enumerate(classes)]
    random.shuffle(data)
    X = np.array([d[0] for d in data], dtype=np.int64)
    y = np.array([d[1] for d in data], dtype=np.int64)
    tr, te = slice(0, 5000), slice(5000, None)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(len(vocab), 32, padding_idx=0)
            self.lstm = nn.LSTM(32, 48, batch_first=True)
            self.out = nn.Linear(48, len(classes))

        def forward(self, tokens):
            _, (h, _) = self.lstm(self.emb(tokens))
            return self.out(h[-1])

    model = Classifier()
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    xt, yt = torch.from_numpy(X[tr]), torch.from_numpy(y[tr])
    for epoch in range(8):
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            b = perm[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[b]), yt[b]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(X[te])).argmax(1).numpy() == y[te]).mean()
    d = os.path.join(OUT, "text_classifier")
    torch.onnx.export(model, torch.from_numpy(X[:2]), os.path.join(d, "1", "model.onnx"),
                      input_names=["tokens"], output_names=["logits"],
                      dynamic_axes={"tokens": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(d, "labels.txt"), "w") as f:
        f.write("\n".join(classes) + "\n")
    examples = [["i", "was", "charged", "twice", "please", "refund"],
                ["the", "app", "crashes", "with", "an", "error"],
                ["can", "you", "reset", "my", "password"],
                ["what", "are", "your", "office", "hours"]]
    np.save(os.path.join(d, "example_input.npy"), np.array([encode(e) for e in examples], dtype=np.int64))
    with open(os.path.join(d, "README.md"), "w") as f:
        f.write(f"""# text_classifier

A support-ticket topic classifier (Embedding 32 -> LSTM 48 -> Linear, classes in labels.txt:
billing, technical, account, other) trained by `tools/make_examples.py` on 6,000 generated
sentences (topic words mixed with filler words and an occasional distractor; no text data set
ships with Debian), 8 epochs of Adam, seed 0, exported by torch 1.13 at opset 13. Held-out
accuracy on 1,000 generated sentences: {acc:.3f}.

Input `tokens: int64[batch,12]`: word ids from vocab.txt (line number, 0-based; 0 pads, 1 is
an unknown word); output `logits: float32[batch,4]`. `example_input.npy` encodes
"i was charged twice please refund", "the app crashes with an error", "can you reset my
password" and "what are your office hours".
""")
    return acc


if __name__ == "__main__":
    torch.set_num_threads(2)
    print("digits_cnn held-out accuracy", digits())
    print("text_classifier held-out accuracy", text())
