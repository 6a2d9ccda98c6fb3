from builtins import range
import numpy as np


def affine_forward(x, w, b):
    """Computes the forward pass for an affine (fully connected) layer."""
    out = None
    ###########################################################################
    N = x.shape[0]
    out = np.dot(x.reshape(N, -1), w) + b
    ###########################################################################
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    dx, dw, db = None, None, None
    ###########################################################################
    N = x.shape[0]
    dx = np.dot(dout, w.T).reshape(x.shape)
    dw = np.dot(x.reshape(N, -1).T, dout)
    db = np.sum(dout, axis=0)
    ###########################################################################
    return dx, dw, db


def relu_forward(x):
    out = x * (x > 0)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    x = cache
    dx = dout.copy()
    dx[x <= 0] = 0
    return dx


def softmax_loss(x, y):
    N = x.shape[0]
    z = x - np.max(x, axis=1, keepdims=True)
    log_sum = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    log_p = z - log_sum
    loss = -np.sum(log_p[np.arange(N), y]) / N
    dx = np.exp(log_p)
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)

    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        sample_mean = np.mean(x, axis=0)
        xc = x - sample_mean
        sample_var = np.mean(xc ** 2, axis=0)
        inv_std = 1.0 / np.sqrt(sample_var + eps)
        xn = xc * inv_std
        out = gamma * xn + beta
        # a dictionary cache: any layout is fine, the backward pass is mine too
        cache = {"xc": xc, "inv_std": inv_std, "xn": xn, "gamma": gamma}
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
    elif mode == "test":
        xn = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * xn + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    # staged: out = gamma * xn + beta, xn = xc * inv_std, inv_std = (var + eps)^-1/2
    xc, inv_std, xn, gamma = cache["xc"], cache["inv_std"], cache["xn"], cache["gamma"]
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xn).sum(axis=0)
    dxn = dout * gamma
    dinv_std = (dxn * xc).sum(axis=0)
    dvar = dinv_std * (-0.5) * inv_std ** 3
    dxc = dxn * inv_std + dvar * 2.0 * xc / N
    dmu = -dxc.sum(axis=0)
    dx = dxc + dmu / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xn, inv_std, gamma = cache["xn"], cache["inv_std"], cache["gamma"]
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xn).sum(axis=0)
    dx = (gamma * inv_std / N) * (N * dout - dbeta - xn * dgamma)
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    # transpose trick: layer norm is batch norm on x.T without running averages
    xt = x.T
    mu = xt.mean(axis=0)
    var = xt.var(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    xn = ((xt - mu) * inv_std).T
    out = gamma * xn + beta
    cache = (xn, inv_std, gamma)
    return out, cache


def layernorm_backward(dout, cache):
    xn, inv_std, gamma = cache
    D = dout.shape[1]
    dgamma = (dout * xn).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dxn = (dout * gamma).T
    xnt = xn.T
    dx = (inv_std / D) * (D * dxn - dxn.sum(axis=0) - xnt * (dxn * xnt).sum(axis=0))
    return dx.T, dgamma, dbeta


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])

    mask = None
    out = None
    if mode == "train":
        # p is the probability of dropping a unit
        mask = (np.random.rand(*x.shape) < (1 - p)) / (1 - p)
        out = x * mask
    elif mode == "test":
        out = x

    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)
    return out, cache


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    mode = dropout_param["mode"]
    dx = None
    if mode == "train":
        dx = dout * mask
    elif mode == "test":
        dx = dout
    return dx


def svm_loss(x, y):
    """Given: multiclass SVM loss."""
    N = x.shape[0]
    correct_class_scores = x[np.arange(N), y]
    margins = np.maximum(0, x - correct_class_scores[:, np.newaxis] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    num_pos = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    dx[np.arange(N), y] -= num_pos
    dx /= N
    return loss, dx
