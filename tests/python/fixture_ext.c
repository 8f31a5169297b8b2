/*
 * fixture_ext.c — hs_fixture, a tiny C extension for the Python tests:
 * hs_fixture.alloc(n, size) mallocs n blocks of size bytes (written, so
 * they are real) and keeps them until hs_fixture.release(); its own
 * function is the leaf a merged stack must start with.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

static void **kept;
static size_t nkept, capkept;

/* Not static and not inlined: its name is what the tests look for. */
__attribute__((noinline)) void *
hs_fixture_block(size_t size)
{
    void *p = malloc(size);
    if (p != NULL)
        memset(p, 0x5a, size);
    return p;
}

static PyObject *
fixture_alloc(PyObject *self, PyObject *args)
{
    (void)self;
    Py_ssize_t n, size;
    if (!PyArg_ParseTuple(args, "nn", &n, &size))
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (nkept == capkept) {
            size_t cap = capkept ? capkept * 2 : 64;
            void **k = realloc(kept, cap * sizeof(*k));
            if (k == NULL)
                return PyErr_NoMemory();
            kept = k;
            capkept = cap;
        }
        void *p = hs_fixture_block((size_t)size);
        if (p == NULL)
            return PyErr_NoMemory();
        kept[nkept++] = p;
    }
    return PyLong_FromSize_t(nkept);
}

static PyObject *
fixture_release(PyObject *self, PyObject *args)
{
    (void)self, (void)args;
    for (size_t i = 0; i < nkept; i++)
        free(kept[i]);
    nkept = 0;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"alloc", fixture_alloc, METH_VARARGS, "alloc(n, size): keep n blocks"},
    {"release", fixture_release, METH_NOARGS, "free every kept block"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "hs_fixture",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit_hs_fixture(void)
{
    return PyModule_Create(&module);
}
