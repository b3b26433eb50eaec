/*
 * media._rtp: aiortc's RtpPacket.parse for well-formed packets, in C (media/fast_rtp.py is
 * its Python side and its reference).
 *
 * Every SRTP-decrypted packet the server receives is parsed into an aiortc RtpPacket: the
 * Python parse of media/fast_rtp.py was still the largest Python step left per received packet
 * (1.6-1.9 µs a browser packet, 0.7-0.8 µs with this module, timeit through fast_rtp.parse).
 * `parse` does what fast_rtp.parse's Python path does for well-formed input: the packet and
 * its HeaderExtensions are created without their __init__ (as object.__new__), every
 * attribute set in __init__'s order (the instance dict's key order; setting them one by one
 * keeps the instance's shared-key values, twice as fast as making a dict and setting
 * __dict__), the one-byte (0xBEDE) extension block decoded through fast_rtp's table header
 * byte -> field (build_tables, passed here as 256 bytes), the trailing padding cut off.
 *
 * Wherever the Python path would go elsewhere (aiortc's own code for what it rejects, the
 * two-byte and unknown profiles) or would raise, `parse` returns None and fast_rtp.parse runs
 * its Python code as before: errors stay aiortc's. tests/media/test_rtp_core.py compares the
 * two on the same bytes (browser-like, malformed, random).
 *
 * All calls come from the event loop's thread with the GIL held.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#define HEADER_LENGTH 12
#define ONE_BYTE_PROFILE 0xBEDE
#define TABLE_SIZE 256

/* media/fast_rtp.py's field codes: FIELDS' order, then what else a header byte can mean. */
#define MID 0
#define REPAIRED_RID 1
#define RID 2
#define ABS_SEND_TIME 3
#define TOFFSET 4
#define AUDIO_LEVEL 5
#define TRANSPORT_CC 6
#define FIELD_COUNT 7
#define PADDING 7
#define IGNORED 8
#define INVALID 9

/* aiortc's RtpPacket and HeaderExtensions, given once by setup(). */
static PyTypeObject *packet_type, *extensions_type;
static PyObject *no_args; /* () for object.__new__ */
static PyObject *str_version, *str_marker, *str_payload_type, *str_sequence_number,
    *str_timestamp, *str_ssrc, *str_csrc, *str_extensions, *str_payload, *str_padding_size;
/* HeaderExtensions' fields by field code. */
static PyObject *field_names[FIELD_COUNT];
/* The order HeaderExtensions' (dataclass) __init__ sets its fields in. */
static const int extensions_order[FIELD_COUNT] = {
    ABS_SEND_TIME, AUDIO_LEVEL, MID, REPAIRED_RID, RID, TOFFSET, TRANSPORT_CC,
};

/* A decoding error: 0 (fall back to Python) for what fast_rtp's Malformed covers, -1 else. */
static int
decode_failed(void)
{
    if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

/*
 * fast_rtp._one_byte: the block data[pos:end] into values (new references, NULL for None,
 * by field code). 1: decoded; 0: fast_rtp would fall back to aiortc's code (nothing set);
 * -1: an error is set. Value lengths are checked here as well as by the table, so that no
 * table can make this read past the block.
 */
static int
decode_one_byte(const uint8_t *data, Py_ssize_t pos, Py_ssize_t end, const uint8_t *table,
                PyObject **values)
{
    while (pos < end) {
        uint8_t byte = data[pos];
        int field = table[byte];
        if (field == PADDING) {
            pos++; /* a zero byte is padding, wherever it is (as aiortc reads it) */
            continue;
        }
        const uint8_t *value = data + pos + 1;
        Py_ssize_t length = (byte & 0x0F) + 1;
        pos += 1 + length;
        if (pos > end)
            return 0; /* truncated value */
        PyObject *decoded;
        switch (field) {
        case IGNORED:
            continue;
        case ABS_SEND_TIME:
            if (length != 3)
                return 0;
            decoded = PyLong_FromLong((long)value[0] << 16 | value[1] << 8 | value[2]);
            break;
        case MID:
            decoded = PyUnicode_DecodeUTF8((const char *)value, length, NULL);
            if (decoded == NULL)
                return decode_failed();
            break;
        case AUDIO_LEVEL:
            if (length != 1)
                return 0;
            decoded = Py_BuildValue("(Oi)", (value[0] & 0x80) ? Py_True : Py_False,
                                    value[0] & 0x7F);
            break;
        case TRANSPORT_CC:
            if (length != 2)
                return 0;
            decoded = PyLong_FromLong(value[0] << 8 | value[1]);
            break;
        case REPAIRED_RID:
        case RID:
            decoded = PyUnicode_DecodeASCII((const char *)value, length, NULL);
            if (decoded == NULL)
                return decode_failed();
            break;
        case TOFFSET: {
            if (length != 3)
                return 0;
            long offset = (long)value[0] << 16 | value[1] << 8 | value[2];
            decoded = PyLong_FromLong(offset & 0x800000 ? offset - 0x1000000 : offset);
            break;
        }
        default:
            return 0; /* INVALID: a length aiortc's struct.unpack refuses */
        }
        if (decoded == NULL)
            return -1;
        Py_XSETREF(values[field], decoded); /* a repeated id: the last value wins */
    }
    return 1;
}

/* obj.name = value, the reference to value taken (NULL: its error is set already). */
static int
set_owned(PyObject *obj, PyObject *name, PyObject *value)
{
    if (value == NULL)
        return -1;
    int result = PyObject_SetAttr(obj, name, value);
    Py_DECREF(value);
    return result;
}

/* A HeaderExtensions with values (references taken, NULL: None), fields in __init__'s order. */
static PyObject *
new_extensions(PyObject **values)
{
    PyObject *extensions = PyBaseObject_Type.tp_new(extensions_type, no_args, NULL);
    for (int i = 0; i < FIELD_COUNT; i++) {
        int field = extensions_order[i];
        PyObject *value = values[field];
        values[field] = NULL;
        if (extensions == NULL) {
            Py_XDECREF(value);
            continue;
        }
        if (set_owned(extensions, field_names[field], value ? value : Py_NewRef(Py_None)) < 0)
            Py_CLEAR(extensions); /* the remaining values are released by the loop */
    }
    return extensions;
}

static unsigned long
read32(const uint8_t *at)
{
    return (unsigned long)at[0] << 24 | (unsigned long)at[1] << 16 | (unsigned long)at[2] << 8 |
           at[3];
}

static PyObject *
new_csrc(const uint8_t *data, int count)
{
    PyObject *csrc = PyList_New(count);
    if (csrc == NULL)
        return NULL;
    for (int i = 0; i < count; i++) {
        PyObject *item = PyLong_FromUnsignedLong(read32(data + HEADER_LENGTH + 4 * i));
        if (item == NULL) {
            Py_DECREF(csrc);
            return NULL;
        }
        PyList_SET_ITEM(csrc, i, item);
    }
    return csrc;
}

static PyObject *
rtp_parse(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "parse(data, table) takes 2 arguments");
        return NULL;
    }
    PyObject *bytes = args[0], *table = args[1];
    if (!PyBytes_CheckExact(table) || PyBytes_GET_SIZE(table) != TABLE_SIZE) {
        PyErr_SetString(PyExc_TypeError, "table must be 256 bytes (fast_rtp.build_tables)");
        return NULL;
    }
    if (packet_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "media._rtp.setup() was not called");
        return NULL;
    }
    if (!PyBytes_CheckExact(bytes))
        Py_RETURN_NONE;
    const uint8_t *data = (const uint8_t *)PyBytes_AS_STRING(bytes);
    Py_ssize_t size = PyBytes_GET_SIZE(bytes);
    if (size < HEADER_LENGTH || data[0] >> 6 != 2)
        Py_RETURN_NONE;
    int first = data[0], cc = first & 0x0F;
    Py_ssize_t pos = HEADER_LENGTH + 4 * cc;
    if (size < pos)
        Py_RETURN_NONE;

    /* Everything checked and decoded before any object is made: a fallback costs little. */
    PyObject *values[FIELD_COUNT] = {NULL};
    if (first & 0x10) {
        if (size < pos + 4)
            Py_RETURN_NONE;
        int profile = data[pos] << 8 | data[pos + 1];
        Py_ssize_t end = pos + 4 + 4 * (data[pos + 2] << 8 | data[pos + 3]);
        if (size < end || profile != ONE_BYTE_PROFILE)
            Py_RETURN_NONE; /* the two-byte and unknown profiles: aiortc's unpacking */
        int decoded = decode_one_byte(data, pos + 4, end,
                                      (const uint8_t *)PyBytes_AS_STRING(table), values);
        if (decoded <= 0) {
            for (int i = 0; i < FIELD_COUNT; i++)
                Py_XDECREF(values[i]);
            if (decoded < 0)
                return NULL;
            Py_RETURN_NONE;
        }
        pos = end;
    }
    Py_ssize_t padding = 0;
    if (first & 0x20) {
        padding = data[size - 1];
        if (!padding || padding > size - pos) {
            for (int i = 0; i < FIELD_COUNT; i++)
                Py_XDECREF(values[i]);
            Py_RETURN_NONE;
        }
    }

    PyObject *extensions = new_extensions(values);
    if (extensions == NULL)
        return NULL;
    PyObject *packet = PyBaseObject_Type.tp_new(packet_type, no_args, NULL);
    /* RtpPacket.__init__'s attributes, in its order. */
    if (packet == NULL ||
        set_owned(packet, str_version, PyLong_FromLong(2)) < 0 ||
        set_owned(packet, str_marker, PyLong_FromLong(data[1] >> 7)) < 0 ||
        set_owned(packet, str_payload_type, PyLong_FromLong(data[1] & 0x7F)) < 0 ||
        set_owned(packet, str_sequence_number, PyLong_FromLong(data[2] << 8 | data[3])) < 0 ||
        set_owned(packet, str_timestamp, PyLong_FromUnsignedLong(read32(data + 4))) < 0 ||
        set_owned(packet, str_ssrc, PyLong_FromUnsignedLong(read32(data + 8))) < 0 ||
        set_owned(packet, str_csrc, new_csrc(data, cc)) < 0 ||
        PyObject_SetAttr(packet, str_extensions, extensions) < 0 ||
        set_owned(packet, str_payload,
                  PyBytes_FromStringAndSize((const char *)data + pos, size - padding - pos)) <
            0 ||
        set_owned(packet, str_padding_size, PyLong_FromSsize_t(padding)) < 0)
        Py_CLEAR(packet);
    Py_DECREF(extensions);
    return packet;
}

static PyObject *
rtp_setup(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *packet, *extensions;
    if (!PyArg_ParseTuple(args, "O!O!:setup", &PyType_Type, &packet, &PyType_Type, &extensions))
        return NULL;
    Py_XSETREF(packet_type, (PyTypeObject *)Py_NewRef(packet));
    Py_XSETREF(extensions_type, (PyTypeObject *)Py_NewRef(extensions));
    Py_RETURN_NONE;
}

static PyMethodDef rtp_methods[] = {
    {"parse", (PyCFunction)(void (*)(void))rtp_parse, METH_FASTCALL,
     "parse(data, table) -> RtpPacket, or None where media/fast_rtp.py's Python code must run"},
    {"setup", rtp_setup, METH_VARARGS,
     "setup(RtpPacket, HeaderExtensions): the classes parse() makes instances of"},
    {NULL},
};

static struct PyModuleDef rtp_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "media._rtp",
    .m_doc = "aiortc's RtpPacket.parse for well-formed packets, in C (media/fast_rtp.py)",
    .m_size = -1,
    .m_methods = rtp_methods,
};

PyMODINIT_FUNC
PyInit__rtp(void)
{
    no_args = PyTuple_New(0);
    str_version = PyUnicode_InternFromString("version");
    str_marker = PyUnicode_InternFromString("marker");
    str_payload_type = PyUnicode_InternFromString("payload_type");
    str_sequence_number = PyUnicode_InternFromString("sequence_number");
    str_timestamp = PyUnicode_InternFromString("timestamp");
    str_ssrc = PyUnicode_InternFromString("ssrc");
    str_csrc = PyUnicode_InternFromString("csrc");
    str_extensions = PyUnicode_InternFromString("extensions");
    str_payload = PyUnicode_InternFromString("payload");
    str_padding_size = PyUnicode_InternFromString("padding_size");
    field_names[MID] = PyUnicode_InternFromString("mid");
    field_names[REPAIRED_RID] = PyUnicode_InternFromString("repaired_rtp_stream_id");
    field_names[RID] = PyUnicode_InternFromString("rtp_stream_id");
    field_names[ABS_SEND_TIME] = PyUnicode_InternFromString("abs_send_time");
    field_names[TOFFSET] = PyUnicode_InternFromString("transmission_offset");
    field_names[AUDIO_LEVEL] = PyUnicode_InternFromString("audio_level");
    field_names[TRANSPORT_CC] = PyUnicode_InternFromString("transport_sequence_number");
    if (!no_args || !str_version || !str_marker || !str_payload_type || !str_sequence_number ||
        !str_timestamp || !str_ssrc || !str_csrc || !str_extensions || !str_payload ||
        !str_padding_size)
        return NULL;
    for (int i = 0; i < FIELD_COUNT; i++)
        if (field_names[i] == NULL)
            return NULL;
    PyObject *module = PyModule_Create(&rtp_module);
    if (module == NULL)
        return NULL;
    /* The codes of fast_rtp's tables, for its tests to check against its own. */
    if (PyModule_AddIntConstant(module, "MID", MID) < 0 ||
        PyModule_AddIntConstant(module, "REPAIRED_RID", REPAIRED_RID) < 0 ||
        PyModule_AddIntConstant(module, "RID", RID) < 0 ||
        PyModule_AddIntConstant(module, "ABS_SEND_TIME", ABS_SEND_TIME) < 0 ||
        PyModule_AddIntConstant(module, "TOFFSET", TOFFSET) < 0 ||
        PyModule_AddIntConstant(module, "AUDIO_LEVEL", AUDIO_LEVEL) < 0 ||
        PyModule_AddIntConstant(module, "TRANSPORT_CC", TRANSPORT_CC) < 0 ||
        PyModule_AddIntConstant(module, "PADDING", PADDING) < 0 ||
        PyModule_AddIntConstant(module, "IGNORED", IGNORED) < 0 ||
        PyModule_AddIntConstant(module, "INVALID", INVALID) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
