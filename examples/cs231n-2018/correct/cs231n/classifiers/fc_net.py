from builtins import range
from builtins import object
import numpy as np

from ..layers import *
from ..layer_utils import *


class FullyConnectedNet(object):
    """{affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax"""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        self.normalization = normalization
        self.use_dropout = dropout != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}

        dims = [input_dim] + list(hidden_dims) + [num_classes]
        for i in range(self.num_layers):
            self.params["W%d" % (i + 1)] = np.random.normal(0.0, weight_scale, (dims[i], dims[i + 1]))
            self.params["b%d" % (i + 1)] = np.zeros(dims[i + 1])
        if self.normalization is not None:
            for i in range(self.num_layers - 1):
                self.params["gamma%d" % (i + 1)] = np.ones(dims[i + 1])
                self.params["beta%d" % (i + 1)] = np.zeros(dims[i + 1])

        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout}
            if seed is not None:
                self.dropout_param["seed"] = seed

        self.bn_params = []
        if self.normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for i in range(self.num_layers - 1)]
        if self.normalization == "layernorm":
            self.bn_params = [{} for i in range(self.num_layers - 1)]

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"

        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode

        caches = []
        h = X
        for i in range(1, self.num_layers):
            W, b = self.params["W%d" % i], self.params["b%d" % i]
            if self.normalization is None:
                h, cache = affine_relu_forward(h, W, b)
            else:
                h, cache = affine_norm_relu_forward(h, W, b, self.params["gamma%d" % i], self.params["beta%d" % i],
                                                    self.bn_params[i - 1], self.normalization)
            drop_cache = None
            if self.use_dropout:
                h, drop_cache = dropout_forward(h, self.dropout_param)
            caches.append((cache, drop_cache))
        L = self.num_layers
        scores, last_cache = affine_forward(h, self.params["W%d" % L], self.params["b%d" % L])

        if mode == "test":
            return scores

        loss, grads = 0.0, {}
        loss, dscores = softmax_loss(scores, y)
        for i in range(1, L + 1):
            W = self.params["W%d" % i]
            loss += 0.5 * self.reg * np.sum(W * W)

        dh, dW, db = affine_backward(dscores, last_cache)
        grads["W%d" % L] = dW + self.reg * self.params["W%d" % L]
        grads["b%d" % L] = db
        for i in range(L - 1, 0, -1):
            cache, drop_cache = caches[i - 1]
            if self.use_dropout:
                dh = dropout_backward(dh, drop_cache)
            if self.normalization is None:
                dh, dW, db = affine_relu_backward(dh, cache)
            else:
                dh, dW, db, dgamma, dbeta = affine_norm_relu_backward(dh, cache)
                grads["gamma%d" % i] = dgamma
                grads["beta%d" % i] = dbeta
            grads["W%d" % i] = dW + self.reg * self.params["W%d" % i]
            grads["b%d" % i] = db
        return loss, grads


class TwoLayerNet(object):
    """affine - relu - affine - softmax"""

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0):
        self.params = {}
        self.reg = reg
        self.params["W1"] = weight_scale * np.random.randn(input_dim, hidden_dim)
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b2"] = np.zeros(num_classes)

    def loss(self, X, y=None):
        h, cache1 = affine_relu_forward(X, self.params["W1"], self.params["b1"])
        scores, cache2 = affine_forward(h, self.params["W2"], self.params["b2"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(self.params["W1"] ** 2) + np.sum(self.params["W2"] ** 2))
        grads = {}
        dh, grads["W2"], grads["b2"] = affine_backward(dscores, cache2)
        dx, grads["W1"], grads["b1"] = affine_relu_backward(dh, cache1)
        grads["W1"] += self.reg * self.params["W1"]
        grads["W2"] += self.reg * self.params["W2"]
        return loss, grads
