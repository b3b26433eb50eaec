/*
 * media._frames: the receive buffer that assembles frames, in C (media/frame_buffers.py is
 * its Python side and its reference).
 *
 * Every packet of a publisher whose frames are wanted (the recorder, identity) went through
 * Python's depayload (VP8's payload descriptor) and the buffer's bookkeeping: a few
 * microseconds each, more than any other step of the receive path left in Python
 * (docs/bench/README.md). `FrameBuffer` is aiortc 1.16.0's JitterBuffer with the rules of
 * media/frame_buffers.py's VideoFrameBuffer and AudioFrameBuffer, step for step, and the
 * depayload: the payload is copied once into the slot, a frame is one bytes object made when
 * it is whole. tests/media/test_frames_core.py runs it beside the Python buffers on the same
 * packets (lossy, reordered, jumping, wrapping, random) and compares every result.
 *
 * All calls come from the event loop's thread with the GIL held.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "structmember.h"

#include <stdint.h>
#include <string.h>

/* aiortc's jitterbuffer.MAX_MISORDER. */
#define MAX_MISORDER 100
/* media/frame_buffers.py's AUDIO_REORDER_PACKETS. */
#define AUDIO_REORDER_PACKETS 2
#define MAX_CAPACITY 32768

/* How a payload becomes the frame's bytes. */
#define DEPAYLOAD_AS_IS 0   /* Opus and other audio: aiortc's depayload returns it */
#define DEPAYLOAD_VP8 1     /* strip the VP8 payload descriptor (RFC 7741) */
#define DEPAYLOAD_DONE 2    /* Python depayloaded it already, into packet._data */

typedef struct {
    int present;
    int marker;
    uint32_t timestamp;
    Py_ssize_t length;
    Py_ssize_t capacity;
    char *data;
} Slot;

typedef struct {
    PyObject_HEAD
    int capacity;
    int video;
    int origin; /* -1: none */
    Slot *slots;
    PyObject *frame_type;
    PyObject *forward;
    int frames_wanted;
    /* VideoFrameBuffer: the newest packet so far, and whether the last look found nothing */
    int newest_sequence; /* -1: none */
    uint32_t newest_timestamp;
    int nothing_whole;
} FrameBuffer;

static PyObject *nothing; /* (False, None), the usual answer */
static PyObject *str_sequence_number, *str_timestamp, *str_marker, *str_payload, *str_data;

static int
sequence_add(int sequence, int step)
{
    return (sequence + step) & 0xFFFF;
}

static Slot *
slot_at(FrameBuffer *self, int sequence)
{
    return &self->slots[sequence % self->capacity];
}

static void
buffer_remove(FrameBuffer *self, int count)
{
    for (int i = 0; i < count; i++) {
        slot_at(self, self->origin)->present = 0;
        self->origin = sequence_add(self->origin, 1);
    }
}

/* aiortc's JitterBuffer.smart_remove. */
static int
buffer_smart_remove(FrameBuffer *self, int count)
{
    int have_timestamp = 0;
    uint32_t timestamp = 0;
    for (int i = 0; i < self->capacity; i++) {
        Slot *slot = slot_at(self, self->origin);
        if (slot->present) {
            if (i >= count && (!have_timestamp || timestamp != slot->timestamp))
                break;
            timestamp = slot->timestamp;
            have_timestamp = 1;
        }
        slot->present = 0;
        self->origin = sequence_add(self->origin, 1);
        if (i == self->capacity - 1)
            return 1;
    }
    return 0;
}

/* The frame of `count` packets from the origin (all present), removed: a JitterFrame. */
static PyObject *
take_frame(FrameBuffer *self, int count, uint32_t timestamp)
{
    Py_ssize_t size = 0;
    for (int i = 0; i < count; i++)
        size += slot_at(self, sequence_add(self->origin, i))->length;
    PyObject *data = PyBytes_FromStringAndSize(NULL, size);
    if (data == NULL)
        return NULL;
    char *at = PyBytes_AS_STRING(data);
    for (int i = 0; i < count; i++) {
        Slot *slot = slot_at(self, sequence_add(self->origin, i));
        memcpy(at, slot->data, (size_t)slot->length);
        at += slot->length;
    }
    buffer_remove(self, count);
    PyObject *stamp = PyLong_FromUnsignedLong(timestamp);
    if (stamp == NULL) {
        Py_DECREF(data);
        return NULL;
    }
    PyObject *frame = PyObject_CallFunctionObjArgs(self->frame_type, data, stamp, NULL);
    Py_DECREF(data);
    Py_DECREF(stamp);
    return frame;
}

/* VideoFrameBuffer._complete_at_marker: Py_None if no frame (a new reference either way). */
static PyObject *
complete_at_marker(FrameBuffer *self)
{
    if (self->origin < 0)
        Py_RETURN_NONE;
    uint32_t timestamp = 0;
    for (int count = 0; count < self->capacity; count++) {
        Slot *slot = slot_at(self, sequence_add(self->origin, count));
        if (!slot->present)
            Py_RETURN_NONE;
        if (count == 0)
            timestamp = slot->timestamp;
        else if (slot->timestamp != timestamp)
            Py_RETURN_NONE;
        if (slot->marker)
            return take_frame(self, count + 1, timestamp);
    }
    Py_RETURN_NONE;
}

/* aiortc's JitterBuffer._remove_frame with prefetch 0: the run before a timestamp change. */
static PyObject *
complete_at_next_frame(FrameBuffer *self)
{
    if (self->origin < 0)
        Py_RETURN_NONE;
    uint32_t timestamp = 0;
    for (int count = 0; count < self->capacity; count++) {
        Slot *slot = slot_at(self, sequence_add(self->origin, count));
        if (!slot->present)
            break;
        if (count == 0)
            timestamp = slot->timestamp;
        else if (slot->timestamp != timestamp)
            return take_frame(self, count, timestamp);
    }
    Py_RETURN_NONE;
}

/* VideoFrameBuffer._next_frame. */
static PyObject *
next_video_frame(FrameBuffer *self)
{
    PyObject *frame = complete_at_marker(self);
    if (frame == Py_None) {
        Py_DECREF(frame);
        frame = complete_at_next_frame(self);
    }
    if (frame != NULL)
        self->nothing_whole = frame == Py_None;
    return frame;
}

/* AudioFrameBuffer._remove_frame. */
static PyObject *
next_audio_frame(FrameBuffer *self)
{
    if (self->origin < 0)
        Py_RETURN_NONE;
    Slot *slot = slot_at(self, self->origin);
    if (!slot->present) {
        int later = 0, first = 0;
        for (int ahead = 1; ahead < self->capacity; ahead++) {
            if (slot_at(self, sequence_add(self->origin, ahead))->present) {
                if (later++ == 0)
                    first = ahead;
            }
        }
        if (later < AUDIO_REORDER_PACKETS)
            Py_RETURN_NONE;
        buffer_remove(self, first);
        slot = slot_at(self, self->origin);
    }
    return take_frame(self, 1, slot->timestamp);
}

/* VideoFrameBuffer._remove_frame(sequence) right after storing the packet `sequence`. */
static PyObject *
video_frame_after(FrameBuffer *self, int sequence)
{
    Slot *slot = slot_at(self, sequence);
    if (slot->present) {
        int had_newest = self->newest_sequence >= 0;
        int newest = self->newest_sequence;
        uint32_t newest_timestamp = self->newest_timestamp;
        if (!had_newest || ((sequence - newest) & 0xFFFF) < 0x8000) {
            self->newest_sequence = sequence;
            self->newest_timestamp = slot->timestamp;
        }
        if (self->nothing_whole && had_newest && !slot->marker &&
            sequence == sequence_add(newest, 1) && slot->timestamp == newest_timestamp)
            Py_RETURN_NONE;
    }
    return next_video_frame(self);
}

static int
store(FrameBuffer *self, int sequence, uint32_t timestamp, int marker, const char *data,
      Py_ssize_t length)
{
    Slot *slot = slot_at(self, sequence);
    if (slot->capacity < length) {
        char *grown = PyMem_Realloc(slot->data, (size_t)length);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        slot->data = grown;
        slot->capacity = length;
    }
    if (length)
        memcpy(slot->data, data, (size_t)length);
    slot->length = length;
    slot->timestamp = timestamp;
    slot->marker = marker;
    slot->present = 1;
    return 0;
}

/*
 * The length of the VP8 payload descriptor (RFC 7741 section 4.2) at the start of `payload`,
 * or -1 with ValueError where aiortc's VpxPayloadDescriptor.parse raises.
 */
static Py_ssize_t
vp8_descriptor_length(const uint8_t *payload, Py_ssize_t length)
{
    if (length < 1) {
        PyErr_SetString(PyExc_ValueError, "VPX descriptor is too short");
        return -1;
    }
    Py_ssize_t position = 1;
    if (!(payload[0] & 0x80))
        return position;
    if (length < position + 1) {
        PyErr_SetString(PyExc_ValueError, "VPX descriptor has truncated extended bits");
        return -1;
    }
    uint8_t bits = payload[position++];
    if (bits & 0x80) { /* I: picture id, 7 or 15 bits */
        if (length < position + 1) {
            PyErr_SetString(PyExc_ValueError, "VPX descriptor has truncated PictureID");
            return -1;
        }
        if (payload[position] & 0x80) {
            if (length < position + 2) {
                PyErr_SetString(PyExc_ValueError,
                                "VPX descriptor has truncated long PictureID");
                return -1;
            }
            position += 2;
        } else {
            position += 1;
        }
    }
    if (bits & 0x40) { /* L: TL0PICIDX */
        if (length < position + 1) {
            PyErr_SetString(PyExc_ValueError, "VPX descriptor has truncated TL0PICIDX");
            return -1;
        }
        position += 1;
    }
    if (bits & 0x30) { /* T or K: one octet for both */
        if (length < position + 1) {
            PyErr_SetString(PyExc_ValueError, "VPX descriptor has truncated T/K");
            return -1;
        }
        position += 1;
    }
    return position;
}

/* aiortc's JitterBuffer.add, then this kind's _remove_frame: (pli, frame or None). */
static PyObject *
buffer_add(FrameBuffer *self, int sequence, uint32_t timestamp, int marker, const char *data,
           Py_ssize_t length)
{
    int pli = 0;
    int delta, misorder;
    if (self->origin < 0) {
        self->origin = sequence;
        delta = misorder = 0;
    } else {
        delta = (sequence - self->origin) & 0xFFFF;
        misorder = (self->origin - sequence) & 0xFFFF;
    }
    if (misorder < delta) {
        if (misorder >= MAX_MISORDER) {
            buffer_remove(self, self->capacity);
            self->origin = sequence;
            delta = misorder = 0;
            if (self->video)
                pli = 1;
        } else {
            return Py_NewRef(nothing);
        }
    }
    if (delta >= self->capacity) {
        int excess = delta - self->capacity + 1;
        if (buffer_smart_remove(self, excess))
            self->origin = sequence;
        if (self->video)
            pli = 1;
    }
    if (store(self, sequence, timestamp, marker, data, length) < 0)
        return NULL;
    PyObject *frame = self->video ? video_frame_after(self, sequence) : next_audio_frame(self);
    if (frame == NULL)
        return NULL;
    if (!pli && frame == Py_None) {
        Py_DECREF(frame);
        return Py_NewRef(nothing);
    }
    PyObject *result = PyTuple_Pack(2, pli ? Py_True : Py_False, frame);
    Py_DECREF(frame);
    return result;
}

/* Reads an int attribute of the packet into `value`; -1 with an exception if it cannot. */
static int
int_attribute(PyObject *packet, PyObject *name, unsigned long *value)
{
    PyObject *attribute = PyObject_GetAttr(packet, name);
    if (attribute == NULL)
        return -1;
    *value = PyLong_AsUnsignedLong(attribute);
    Py_DECREF(attribute);
    return (*value == (unsigned long)-1 && PyErr_Occurred()) ? -1 : 0;
}

static PyObject *
FrameBuffer_add(FrameBuffer *self, PyObject *args)
{
    PyObject *packet;
    /* Without it: aiortc's own receive path, which depayloads into packet._data first. */
    int depayload = DEPAYLOAD_DONE;
    if (!PyArg_ParseTuple(args, "O|i", &packet, &depayload))
        return NULL;
    if (depayload < DEPAYLOAD_AS_IS || depayload > DEPAYLOAD_DONE) {
        PyErr_SetString(PyExc_ValueError, "unknown depayload");
        return NULL;
    }
    unsigned long sequence, timestamp, marker;
    if (int_attribute(packet, str_sequence_number, &sequence) < 0 ||
        int_attribute(packet, str_timestamp, &timestamp) < 0 ||
        int_attribute(packet, str_marker, &marker) < 0)
        return NULL;
    /* Python's depayload fills packet._data only where frames are wanted. */
    int wanted = self->frames_wanted;
    PyObject *payload = (depayload == DEPAYLOAD_DONE && !wanted)
                            ? PyBytes_FromStringAndSize(NULL, 0)
                            : PyObject_GetAttr(packet, depayload == DEPAYLOAD_DONE ? str_data
                                                                                : str_payload);
    if (payload == NULL)
        return NULL;
    if (!PyBytes_Check(payload)) {
        PyErr_SetString(PyExc_TypeError, "payload must be bytes");
        Py_DECREF(payload);
        return NULL;
    }
    const char *data = PyBytes_AS_STRING(payload);
    Py_ssize_t length = PyBytes_GET_SIZE(payload);
    /* As media/sync_receive.py: depayloaded only where frames are wanted, before the packet
     * is forwarded (one that cannot be depayloaded is dropped there, ValueError here). */
    Py_ssize_t skip = -1;
    if (wanted && depayload == DEPAYLOAD_VP8 && length) {
        skip = vp8_descriptor_length((const uint8_t *)data, length);
        if (skip < 0) {
            Py_DECREF(payload);
            return NULL;
        }
    }
    if (self->forward != Py_None) {
        PyObject *forwarded = PyObject_CallOneArg(self->forward, packet);
        if (forwarded == NULL) {
            Py_DECREF(payload);
            return NULL;
        }
        Py_DECREF(forwarded);
    }
    if (!self->frames_wanted) {
        if (self->origin >= 0) {
            /* Start afresh when frames are wanted again, not from stale packets. */
            buffer_remove(self, self->capacity);
            self->origin = -1;
        }
        Py_DECREF(payload);
        return Py_NewRef(nothing);
    }
    if (!wanted) {
        /* Wanted only since the forward: not depayloaded (Python's buffer would store it
         * so and fail at the join); dropped, as one that could not be depayloaded. */
        Py_DECREF(payload);
        return Py_NewRef(nothing);
    }
    if (skip > 0) {
        data += skip;
        length -= skip;
    }
    PyObject *result = buffer_add(self, (int)(sequence & 0xFFFF), (uint32_t)timestamp,
                                  marker != 0, data, length);
    Py_DECREF(payload);
    return result;
}

/*
 * add_continued(sequence, timestamp, marker, payload): `add(packet, DEPAYLOAD_VP8)` (a video
 * buffer) or `add(packet, DEPAYLOAD_AS_IS)` (audio) for a packet that media/_core.c handles
 * without Python (media/continuation.py): no forward hook (the Router forwarded it and counts
 * it for the publication).
 */
static PyObject *
FrameBuffer_add_continued(FrameBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyBytes_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "add_continued(sequence, timestamp, marker, payload: bytes)");
        return NULL;
    }
    unsigned long sequence = PyLong_AsUnsignedLong(args[0]);
    if (sequence == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    unsigned long timestamp = PyLong_AsUnsignedLong(args[1]);
    if (timestamp == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    int marker = PyObject_IsTrue(args[2]);
    if (marker < 0)
        return NULL;
    if (!self->frames_wanted) {
        if (self->origin >= 0) {
            buffer_remove(self, self->capacity);
            self->origin = -1;
        }
        return Py_NewRef(nothing);
    }
    const char *data = PyBytes_AS_STRING(args[3]);
    Py_ssize_t length = PyBytes_GET_SIZE(args[3]);
    if (self->video && length) {
        Py_ssize_t skip = vp8_descriptor_length((const uint8_t *)data, length);
        if (skip < 0)
            return NULL;
        data += skip;
        length -= skip;
    }
    return buffer_add(self, (int)(sequence & 0xFFFF), (uint32_t)timestamp, marker, data, length);
}

static PyObject *
FrameBuffer_ready_frames(FrameBuffer *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *frames = PyList_New(0);
    if (frames == NULL)
        return NULL;
    for (;;) {
        PyObject *frame = self->video ? next_video_frame(self) : next_audio_frame(self);
        if (frame == NULL) {
            Py_DECREF(frames);
            return NULL;
        }
        if (frame == Py_None) {
            Py_DECREF(frame);
            return frames;
        }
        int failed = PyList_Append(frames, frame);
        Py_DECREF(frame);
        if (failed) {
            Py_DECREF(frames);
            return NULL;
        }
    }
}

static PyObject *
FrameBuffer_remove(FrameBuffer *self, PyObject *arg)
{
    long count = PyLong_AsLong(arg);
    if (count == -1 && PyErr_Occurred())
        return NULL;
    if (count < 0 || count > self->capacity) {
        PyErr_SetString(PyExc_ValueError, "count must be between 0 and the capacity");
        return NULL;
    }
    if (self->origin >= 0)
        buffer_remove(self, (int)count);
    Py_RETURN_NONE;
}

static PyObject *
FrameBuffer_load(FrameBuffer *self, PyObject *args)
{
    int origin;
    PyObject *packets;
    if (!PyArg_ParseTuple(args, "iO", &origin, &packets))
        return NULL;
    if (origin < 0 || origin > 0xFFFF) {
        PyErr_SetString(PyExc_ValueError, "origin must be a sequence number");
        return NULL;
    }
    PyObject *iterator = PyObject_GetIter(packets);
    if (iterator == NULL)
        return NULL;
    PyObject *item;
    while ((item = PyIter_Next(iterator)) != NULL) {
        int sequence, marker;
        unsigned long timestamp;
        const char *data;
        Py_ssize_t length;
        int ok = PyArg_ParseTuple(item, "ikpy#", &sequence, &timestamp, &marker, &data, &length);
        if (ok)
            ok = store(self, sequence & 0xFFFF, (uint32_t)timestamp, marker, data, length) == 0;
        Py_DECREF(item);
        if (!ok) {
            Py_DECREF(iterator);
            return NULL;
        }
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred())
        return NULL;
    self->origin = origin;
    Py_RETURN_NONE;
}

static PyObject *
FrameBuffer_get_origin(FrameBuffer *self, void *Py_UNUSED(closure))
{
    if (self->origin < 0)
        Py_RETURN_NONE;
    return PyLong_FromLong(self->origin);
}

static PyObject *
FrameBuffer_get_held(FrameBuffer *self, void *Py_UNUSED(closure))
{
    long held = 0;
    for (int i = 0; i < self->capacity; i++)
        held += self->slots[i].present;
    return PyLong_FromLong(held);
}

static PyObject *
FrameBuffer_get_forward(FrameBuffer *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->forward);
}

static int
FrameBuffer_set_forward(FrameBuffer *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "forward cannot be deleted");
        return -1;
    }
    if (value != Py_None && !PyCallable_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "forward must be callable or None");
        return -1;
    }
    Py_SETREF(self->forward, Py_NewRef(value));
    return 0;
}

static PyObject *
FrameBuffer_get_frames_wanted(FrameBuffer *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->frames_wanted);
}

static int
FrameBuffer_set_frames_wanted(FrameBuffer *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "frames_wanted cannot be deleted");
        return -1;
    }
    int wanted = PyObject_IsTrue(value);
    if (wanted < 0)
        return -1;
    self->frames_wanted = wanted;
    return 0;
}

static int
FrameBuffer_init(FrameBuffer *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"capacity", "video", "frame_type", NULL};
    int capacity, video;
    PyObject *frame_type;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ipO", keywords, &capacity, &video,
                                     &frame_type))
        return -1;
    if (capacity < 1 || capacity > MAX_CAPACITY || (capacity & (capacity - 1))) {
        PyErr_SetString(PyExc_ValueError, "capacity must be a power of 2, at most 32768");
        return -1;
    }
    if (!PyCallable_Check(frame_type)) {
        PyErr_SetString(PyExc_TypeError, "frame_type must be callable");
        return -1;
    }
    if (self->slots != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "FrameBuffer is already initialized");
        return -1;
    }
    self->slots = PyMem_Calloc((size_t)capacity, sizeof(Slot));
    if (self->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->capacity = capacity;
    self->video = video;
    Py_XSETREF(self->frame_type, Py_NewRef(frame_type));
    return 0;
}

static PyObject *
FrameBuffer_new(PyTypeObject *type, PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(kwds))
{
    FrameBuffer *self = (FrameBuffer *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->origin = -1;
    self->newest_sequence = -1;
    self->frames_wanted = 1;
    self->forward = Py_NewRef(Py_None);
    return (PyObject *)self;
}

static int
FrameBuffer_traverse(FrameBuffer *self, visitproc visit, void *arg)
{
    Py_VISIT(self->frame_type);
    Py_VISIT(self->forward);
    return 0;
}

static int
FrameBuffer_clear(FrameBuffer *self)
{
    Py_CLEAR(self->frame_type);
    Py_CLEAR(self->forward);
    return 0;
}

static void
FrameBuffer_dealloc(FrameBuffer *self)
{
    PyObject_GC_UnTrack(self);
    FrameBuffer_clear(self);
    if (self->slots != NULL) {
        for (int i = 0; i < self->capacity; i++)
            PyMem_Free(self->slots[i].data);
        PyMem_Free(self->slots);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef FrameBuffer_methods[] = {
    {"add", (PyCFunction)FrameBuffer_add, METH_VARARGS,
     "add(packet, depayload=DEPAYLOAD_DONE) -> (pli, frame or None); ValueError: not "
     "depayloadable"},
    {"add_continued", (PyCFunction)(void (*)(void))FrameBuffer_add_continued, METH_FASTCALL,
     "add_continued(sequence, timestamp, marker, payload) -> (pli, frame or None): a VP8 "
     "(video) or audio packet the forwarding core handled, not forwarded"},
    {"ready_frames", (PyCFunction)FrameBuffer_ready_frames, METH_NOARGS,
     "every further frame that is whole now, in order"},
    {"remove", (PyCFunction)FrameBuffer_remove, METH_O,
     "remove(count): drop `count` slots from the origin"},
    {"load", (PyCFunction)FrameBuffer_load, METH_VARARGS,
     "load(origin, [(sequence, timestamp, marker, data)]): take over another buffer's packets"},
    {NULL},
};

static PyMemberDef FrameBuffer_members[] = {
    {"capacity", T_INT, offsetof(FrameBuffer, capacity), READONLY, NULL},
    {"video", T_BOOL, offsetof(FrameBuffer, video), READONLY, NULL},
    {NULL},
};

static PyGetSetDef FrameBuffer_getset[] = {
    {"origin", (getter)FrameBuffer_get_origin, NULL, "the oldest sequence number held", NULL},
    {"held", (getter)FrameBuffer_get_held, NULL, "packets held", NULL},
    {"forward", (getter)FrameBuffer_get_forward, (setter)FrameBuffer_set_forward,
     "called with every packet before it is stored", NULL},
    {"frames_wanted", (getter)FrameBuffer_get_frames_wanted,
     (setter)FrameBuffer_set_frames_wanted, "whether frames are assembled at all", NULL},
    {NULL},
};

static PyTypeObject FrameBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "media._frames.FrameBuffer",
    .tp_doc = "aiortc's jitter buffer with media/frame_buffers.py's rules, and the depayload",
    .tp_basicsize = sizeof(FrameBuffer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = FrameBuffer_new,
    .tp_init = (initproc)FrameBuffer_init,
    .tp_dealloc = (destructor)FrameBuffer_dealloc,
    .tp_traverse = (traverseproc)FrameBuffer_traverse,
    .tp_clear = (inquiry)FrameBuffer_clear,
    .tp_methods = FrameBuffer_methods,
    .tp_members = FrameBuffer_members,
    .tp_getset = FrameBuffer_getset,
};

static struct PyModuleDef frames_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "media._frames",
    .m_doc = "The receive buffer that assembles frames, in C (media/frame_buffers.py)",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__frames(void)
{
    if (PyType_Ready(&FrameBufferType) < 0)
        return NULL;
    nothing = PyTuple_Pack(2, Py_False, Py_None);
    str_sequence_number = PyUnicode_InternFromString("sequence_number");
    str_timestamp = PyUnicode_InternFromString("timestamp");
    str_marker = PyUnicode_InternFromString("marker");
    str_payload = PyUnicode_InternFromString("payload");
    str_data = PyUnicode_InternFromString("_data");
    if (!nothing || !str_sequence_number || !str_timestamp || !str_marker || !str_payload ||
        !str_data)
        return NULL;
    PyObject *module = PyModule_Create(&frames_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "FrameBuffer", (PyObject *)&FrameBufferType) < 0 ||
        PyModule_AddIntConstant(module, "DEPAYLOAD_AS_IS", DEPAYLOAD_AS_IS) < 0 ||
        PyModule_AddIntConstant(module, "DEPAYLOAD_VP8", DEPAYLOAD_VP8) < 0 ||
        PyModule_AddIntConstant(module, "DEPAYLOAD_DONE", DEPAYLOAD_DONE) < 0 ||
        PyModule_AddIntConstant(module, "MAX_MISORDER", MAX_MISORDER) < 0 ||
        PyModule_AddIntConstant(module, "AUDIO_REORDER_PACKETS", AUDIO_REORDER_PACKETS) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
