from .layers import *


def affine_relu_forward(x, w, b):
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    cache = (fc_cache, relu_cache)
    return out, cache


def affine_relu_backward(dout, cache):
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db


def affine_norm_relu_forward(x, w, b, gamma, beta, norm_param, norm):
    a, fc_cache = affine_forward(x, w, b)
    if norm == "batchnorm":
        a, norm_cache = batchnorm_forward(a, gamma, beta, norm_param)
    else:
        a, norm_cache = layernorm_forward(a, gamma, beta, norm_param)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, norm_cache, relu_cache, norm)


def affine_norm_relu_backward(dout, cache):
    fc_cache, norm_cache, relu_cache, norm = cache
    da = relu_backward(dout, relu_cache)
    if norm == "batchnorm":
        da, dgamma, dbeta = batchnorm_backward(da, norm_cache)
    else:
        da, dgamma, dbeta = layernorm_backward(da, norm_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta
