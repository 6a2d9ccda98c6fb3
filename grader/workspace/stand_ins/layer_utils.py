"""Stand-in for the starter's ``layer_utils.py`` (the course's given composites), used only when a
submission does not contain one: several courses do not collect ``layer_utils.py`` although
``fc_net.py`` imports it. Every function composes the student's own layers; none is a solution.
"""

from .layers import *  # noqa: F403 - the starter's own import: the student's layers


def affine_relu_forward(x, w, b):
    a, fc_cache = affine_forward(x, w, b)  # noqa: F405
    out, relu_cache = relu_forward(a)  # noqa: F405
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)  # noqa: F405
    return affine_backward(da, fc_cache)  # noqa: F405


def affine_bn_relu_forward(x, w, b, gamma, beta, bn_params):
    a, fc_cache = affine_forward(x, w, b)  # noqa: F405
    an, bn_cache = batchnorm_forward(a, gamma, beta, bn_params)  # noqa: F405
    out, relu_cache = relu_forward(an)  # noqa: F405
    return out, (fc_cache, bn_cache, relu_cache)


def affine_bn_relu_backward(dout, cache):
    fc_cache, bn_cache, relu_cache = cache
    dan = relu_backward(dout, relu_cache)  # noqa: F405
    da, dgamma, dbeta = batchnorm_backward(dan, bn_cache)  # noqa: F405
    dx, dw, db = affine_backward(da, fc_cache)  # noqa: F405
    return dx, dw, db, dgamma, dbeta


def affine_relu_do_forward(x, w, b, do_params):
    a, fc_cache = affine_relu_forward(x, w, b)
    out, do_cache = dropout_forward(a, do_params)  # noqa: F405
    return out, (fc_cache, do_cache)


def affine_relu_do_backward(dout, cache):
    fc_cache, do_cache = cache
    da = dropout_backward(dout, do_cache)  # noqa: F405
    return affine_relu_backward(da, fc_cache)
