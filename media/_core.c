/*
 * media._core: the per-packet forwarding path in C (media/core.py is its Python side).
 *
 * The server's event loop spent most of its time in the interpreter, a few microseconds per
 * step of every packet (docs/bench/README.md). This module does the steps that are the same
 * for every packet of a started subscriber, without Python objects:
 *
 *   Router (one per publisher's DTLS transport): SRTP unprotect of an incoming RTP packet,
 *   then, for every Output routed to the packet's SSRC and payload type, the forward.
 *
 *   Output (one per subscriber's forwarder, media/rtp_forwarder.py): the rewrite that
 *   RtpForwarder does (SSRC, payload type, sequence number and timestamp offsets, its own
 *   MID / abs-send-time / audio-level extensions), the history of the last 128 packets for
 *   NACKs, SRTP protect, sendto on the ICE pair's socket, and the counters behind the
 *   sender's RTCP reports.
 *
 * Everything else stays in Python: when to start (keyframes), restarts, codecs, RTX repairs,
 * statistics, NACK, REMB, the recorder. Those see every packet as before; the Router only
 * tells them which packets it has already forwarded (a serial number per packet).
 *
 * libsrtp is not linked: pylibsrtp's own functions and contexts are passed in as addresses
 * (media/core.py takes them from pylibsrtp's cffi binding), and the Python session objects
 * are referenced here so that their contexts live as long as this module uses them. The
 * socket is a dup() of the ICE protocol's, closed with the Output.
 *
 * All calls come from the event loop's thread with the GIL held; nothing blocks (the socket
 * is non-blocking: a full socket buffer drops the packet, counted, as any UDP loss).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "structmember.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* libsrtp 2's srtp_protect / srtp_unprotect: (srtp_t ctx, void *packet, int *length). */
typedef int (*srtp_function)(void *context, void *packet, int *length);

/* pylibsrtp's own buffer is 1500 bytes; what is longer is not forwarded here either. */
#define PACKET_CAPACITY 1500
/* libsrtp's largest SRTP trailer (SRTP_MAX_TRAILER_LEN). */
#define TRAILER_CAPACITY 144
#define HISTORY_SIZE 128
#define MAX_ROUTES 64
#define MAX_EXTENSIONS 32
#define ONE_BYTE_PROFILE 0xBEDE
/* Seconds from the NTP epoch (1900) to the Unix epoch (1970), RFC 5905. */
#define NTP_UNIX_OFFSET_S 2208988800ULL

/* Shared by all routers: a packet's serial says which outputs forwarded it (last_serial). */
static uint64_t next_serial = 0;

/* The process's totals, for its metrics (signaling/live_metrics.py): counted as they happen,
 * so that nothing a Router or an Output counted is lost when its session ends. */
static struct {
    unsigned long long received;  /* RTP packets given to a Router */
    unsigned long long rejected;  /* of them, refused by SRTP or too long */
    unsigned long long routed;    /* forwarded to one subscriber or more here */
    unsigned long long continued; /* handled here without Python (media/continuation.py) */
    unsigned long long sent;      /* packets sent to subscribers */
    unsigned long long send_failures; /* not sent: socket closed or full, protect failed */
} totals;

static uint64_t
ntp_now(void)
{
    /* As media/fast_clock.py's ntp_from_ns: microsecond resolution. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t micro = (uint64_t)now.tv_nsec / 1000;
    uint64_t seconds = (uint64_t)now.tv_sec + NTP_UNIX_OFFSET_S;
    return (seconds << 32) | ((micro << 32) / 1000000);
}

static void
put16(uint8_t *at, uint32_t value)
{
    at[0] = (uint8_t)(value >> 8);
    at[1] = (uint8_t)value;
}

static void
put32(uint8_t *at, uint32_t value)
{
    at[0] = (uint8_t)(value >> 24);
    at[1] = (uint8_t)(value >> 16);
    at[2] = (uint8_t)(value >> 8);
    at[3] = (uint8_t)value;
}

static uint32_t
get32(const uint8_t *at)
{
    return ((uint32_t)at[0] << 24) | ((uint32_t)at[1] << 16) | ((uint32_t)at[2] << 8) | at[3];
}

/* ------------------------------------------------------------------------------------------
 * Output
 */

typedef struct {
    int sequence; /* -1: empty */
    Py_ssize_t length;
    Py_ssize_t capacity;
    uint8_t *data;
} HistoryEntry;

typedef struct {
    PyObject_HEAD
    /* sending */
    srtp_function protect;
    void *context;
    PyObject *session; /* keeps `context` alive */
    int fd;
    struct sockaddr_storage address;
    socklen_t address_length;
    /* what is forwarded: the publisher's source and payload type */
    uint32_t source;
    int source_payload_type; /* -1: nothing routed yet */
    /* the rewrite */
    uint32_t ssrc;
    uint8_t payload_type;
    uint16_t sequence_offset;
    uint32_t timestamp_offset;
    uint8_t mid_element[17];
    Py_ssize_t mid_element_length;
    int abs_send_time_id; /* 0: none */
    int audio_level_id;   /* 0: none (the subscriber's id) */
    int source_audio_level_id; /* 0: none (the publisher's id) */
    /* state read by Python (sender reports, restarts) */
    unsigned long long forwarded;
    unsigned long long octets;
    unsigned long long transport_bytes;
    unsigned long long transport_packets;
    unsigned long long send_errors;
    unsigned long long protect_errors;
    unsigned long long last_serial;
    unsigned long long last_ntp;
    unsigned int last_sequence;
    unsigned int last_timestamp;
    HistoryEntry history[HISTORY_SIZE];
    uint8_t buffer[PACKET_CAPACITY + TRAILER_CAPACITY];
} Output;

static int
Output_init(Output *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"protect", "context", "session", "fd", "host", "port", "ssrc",
                               "payload_type", "mid_element", "abs_send_time_id",
                               "audio_level_id", NULL};
    unsigned long long protect, context;
    PyObject *session;
    int fd, port, abs_send_time_id, audio_level_id;
    const char *host;
    unsigned int ssrc;
    unsigned char payload_type;
    Py_buffer mid;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "KKOisiIby*ii", keywords, &protect, &context,
                                     &session, &fd, &host, &port, &ssrc, &payload_type, &mid,
                                     &abs_send_time_id, &audio_level_id))
        return -1;
    if (mid.len > (Py_ssize_t)sizeof(self->mid_element)) {
        PyBuffer_Release(&mid);
        PyErr_SetString(PyExc_ValueError, "MID element too long");
        return -1;
    }
    memcpy(self->mid_element, mid.buf, mid.len);
    self->mid_element_length = mid.len;
    PyBuffer_Release(&mid);
    if (port < 0 || port > 65535 || payload_type > 127 || abs_send_time_id < 0 ||
        abs_send_time_id > 14 || audio_level_id < 0 || audio_level_id > 14) {
        PyErr_SetString(PyExc_ValueError, "port, payload type or extension id out of range");
        return -1;
    }
    memset(&self->address, 0, sizeof(self->address));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&self->address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&self->address;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        self->address_length = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        self->address_length = sizeof(*v6);
    } else {
        PyErr_Format(PyExc_ValueError, "not an IP address: %s", host);
        return -1;
    }
    if (!protect || !context) {
        PyErr_SetString(PyExc_ValueError, "no SRTP function or context");
        return -1;
    }
    if (self->fd >= 0)
        close(self->fd);
    Py_XSETREF(self->session, Py_NewRef(session));
    self->protect = (srtp_function)(uintptr_t)protect;
    self->context = (void *)(uintptr_t)context;
    self->fd = fd;
    self->ssrc = ssrc;
    self->payload_type = payload_type;
    self->abs_send_time_id = abs_send_time_id;
    self->audio_level_id = audio_level_id;
    return 0;
}

static PyObject *
Output_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Output *self = (Output *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->fd = -1;
    self->source_payload_type = -1;
    for (int i = 0; i < HISTORY_SIZE; i++)
        self->history[i].sequence = -1;
    return (PyObject *)self;
}

static void
Output_dealloc(Output *self)
{
    if (self->fd >= 0)
        close(self->fd);
    for (int i = 0; i < HISTORY_SIZE; i++)
        PyMem_Free(self->history[i].data);
    Py_XDECREF(self->session);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Protect `length` bytes of cleartext already in self->buffer and send them. */
static int
output_send_buffer(Output *self, int length)
{
    if (self->fd < 0) {
        self->send_errors++;
        totals.send_failures++;
        return 0;
    }
    if (self->protect(self->context, self->buffer, &length) != 0) {
        self->protect_errors++;
        totals.send_failures++;
        return 0;
    }
    ssize_t sent = sendto(self->fd, self->buffer, (size_t)length, 0,
                          (struct sockaddr *)&self->address, self->address_length);
    if (sent < 0) {
        self->send_errors++;
        totals.send_failures++;
        return 0;
    }
    self->transport_bytes += (unsigned long long)length;
    self->transport_packets++;
    totals.sent++;
    return 1;
}

static void
output_remember(Output *self, uint16_t sequence, const uint8_t *data, Py_ssize_t length)
{
    HistoryEntry *entry = &self->history[sequence % HISTORY_SIZE];
    if (entry->capacity < length) {
        uint8_t *grown = PyMem_Realloc(entry->data, (size_t)length);
        if (grown == NULL) {
            entry->sequence = -1; /* no history for this one rather than a failure */
            return;
        }
        entry->data = grown;
        entry->capacity = length;
    }
    memcpy(entry->data, data, (size_t)length);
    entry->length = length;
    entry->sequence = sequence;
}

/*
 * RtpForwarder.forward's rewrite and send, for one packet of the publisher's source:
 * returns 1 if sent, 0 if not (too long, not protected, not sent: counted).
 */
static int
output_forward(Output *self, int marker, uint16_t sequence, uint32_t timestamp,
               const uint8_t *payload, Py_ssize_t payload_length, int audio_level)
{
    uint8_t elements[24];
    Py_ssize_t elements_length = self->mid_element_length;
    uint64_t ntp = ntp_now();
    memcpy(elements, self->mid_element, (size_t)elements_length);
    if (self->abs_send_time_id) {
        uint32_t value = (uint32_t)(ntp >> 14) & 0x00FFFFFF;
        elements[elements_length] = (uint8_t)(self->abs_send_time_id << 4 | 2);
        elements[elements_length + 1] = (uint8_t)(value >> 16);
        elements[elements_length + 2] = (uint8_t)(value >> 8);
        elements[elements_length + 3] = (uint8_t)value;
        elements_length += 4;
    } else if (self->audio_level_id && audio_level >= 0) {
        elements[elements_length] = (uint8_t)(self->audio_level_id << 4);
        elements[elements_length + 1] = (uint8_t)audio_level;
        elements_length += 2;
    }
    Py_ssize_t padded = (elements_length + 3) / 4 * 4;
    Py_ssize_t header_length = 12 + (elements_length ? 4 + padded : 0);
    if (header_length + payload_length > PACKET_CAPACITY) {
        self->send_errors++;
        totals.send_failures++;
        return 0;
    }
    uint16_t out_sequence = (uint16_t)(sequence + self->sequence_offset);
    uint32_t out_timestamp = timestamp + self->timestamp_offset;
    uint8_t *out = self->buffer;
    out[0] = elements_length ? 0x90 : 0x80;
    out[1] = (uint8_t)((marker ? 0x80 : 0) | self->payload_type);
    put16(out + 2, out_sequence);
    put32(out + 4, out_timestamp);
    put32(out + 8, self->ssrc);
    if (elements_length) {
        put16(out + 12, ONE_BYTE_PROFILE);
        put16(out + 14, (uint32_t)(padded / 4));
        memcpy(out + 16, elements, (size_t)elements_length);
        memset(out + 16 + elements_length, 0, (size_t)(padded - elements_length));
    }
    memcpy(out + header_length, payload, (size_t)payload_length);
    int length = (int)(header_length + payload_length);
    output_remember(self, out_sequence, out, length);
    self->last_sequence = out_sequence;
    self->last_timestamp = out_timestamp;
    if (!output_send_buffer(self, length))
        return 0;
    self->forwarded++;
    self->last_ntp = ntp;
    self->octets += (unsigned long long)payload_length;
    return 1;
}

static PyObject *
Output_forward(Output *self, PyObject *args)
{
    int marker, audio_level;
    unsigned int sequence, timestamp;
    Py_buffer payload;
    if (!PyArg_ParseTuple(args, "pIIy*i", &marker, &sequence, &timestamp, &payload,
                          &audio_level))
        return NULL;
    int sent = output_forward(self, marker, (uint16_t)sequence, (uint32_t)timestamp,
                              payload.buf, payload.len, audio_level);
    PyBuffer_Release(&payload);
    return PyBool_FromLong(sent);
}

static PyObject *
Output_send(Output *self, PyObject *arg)
{
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    if (data.len > PACKET_CAPACITY) {
        PyBuffer_Release(&data);
        PyErr_SetString(PyExc_ValueError, "packet is too long");
        return NULL;
    }
    memcpy(self->buffer, data.buf, (size_t)data.len);
    int sent = output_send_buffer(self, (int)data.len);
    PyBuffer_Release(&data);
    return PyBool_FromLong(sent);
}

static PyObject *
Output_history(Output *self, PyObject *arg)
{
    long sequence = PyLong_AsLong(arg);
    if (sequence == -1 && PyErr_Occurred())
        return NULL;
    if (sequence < 0 || sequence > 0xFFFF) {
        PyErr_SetString(PyExc_ValueError, "not a sequence number");
        return NULL;
    }
    HistoryEntry *entry = &self->history[sequence % HISTORY_SIZE];
    if (entry->sequence != sequence)
        Py_RETURN_NONE;
    return PyBytes_FromStringAndSize((const char *)entry->data, entry->length);
}

static PyObject *
Output_follow(Output *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"source", "payload_type", "sequence_offset", "timestamp_offset",
                               "audio_level_id", NULL};
    unsigned int source, sequence_offset, timestamp_offset;
    int payload_type, source_audio_level_id;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "IiIIi", keywords, &source, &payload_type,
                                     &sequence_offset, &timestamp_offset,
                                     &source_audio_level_id))
        return NULL;
    if (payload_type < 0 || payload_type > 127 || sequence_offset > 0xFFFF ||
        source_audio_level_id < 0 || source_audio_level_id > 14) {
        PyErr_SetString(PyExc_ValueError, "payload type, offset or extension id out of range");
        return NULL;
    }
    self->source = source;
    self->source_payload_type = payload_type;
    self->sequence_offset = (uint16_t)sequence_offset;
    self->timestamp_offset = timestamp_offset;
    self->source_audio_level_id = source_audio_level_id;
    Py_RETURN_NONE;
}

static PyObject *
Output_close(Output *self, PyObject *Py_UNUSED(ignored))
{
    if (self->fd >= 0) {
        close(self->fd);
        self->fd = -1;
    }
    Py_RETURN_NONE;
}

static PyObject *
Output_get_closed(Output *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->fd < 0);
}

static PyMethodDef Output_methods[] = {
    {"forward", (PyCFunction)Output_forward, METH_VARARGS,
     "forward(marker, sequence, timestamp, payload, audio_level) -> bool: one of the "
     "publisher's packets, rewritten and sent (audio_level: the byte, or -1)"},
    {"send", (PyCFunction)Output_send, METH_O,
     "send(data) -> bool: protect and send an RTP packet as it is (retransmissions)"},
    {"history", (PyCFunction)Output_history, METH_O,
     "history(sequence) -> bytes | None: a packet sent lately, as sent (before SRTP)"},
    {"follow", (PyCFunction)Output_follow, METH_VARARGS | METH_KEYWORDS,
     "follow(source, payload_type, sequence_offset, timestamp_offset, audio_level_id): "
     "the publisher's stream to forward, and the offsets onto the subscriber's numbering"},
    {"close", (PyCFunction)Output_close, METH_NOARGS, "stop sending; closes the socket's dup"},
    {NULL},
};

static PyMemberDef Output_members[] = {
    {"forwarded", T_ULONGLONG, offsetof(Output, forwarded), READONLY, NULL},
    {"octets", T_ULONGLONG, offsetof(Output, octets), READONLY, NULL},
    {"transport_bytes", T_ULONGLONG, offsetof(Output, transport_bytes), READONLY, NULL},
    {"transport_packets", T_ULONGLONG, offsetof(Output, transport_packets), READONLY, NULL},
    {"send_errors", T_ULONGLONG, offsetof(Output, send_errors), READONLY, NULL},
    {"protect_errors", T_ULONGLONG, offsetof(Output, protect_errors), READONLY, NULL},
    {"last_serial", T_ULONGLONG, offsetof(Output, last_serial), READONLY, NULL},
    {"last_ntp", T_ULONGLONG, offsetof(Output, last_ntp), READONLY, NULL},
    {"last_sequence", T_UINT, offsetof(Output, last_sequence), 0, NULL},
    {"last_timestamp", T_UINT, offsetof(Output, last_timestamp), 0, NULL},
    {NULL},
};

static PyGetSetDef Output_getset[] = {
    {"closed", (getter)Output_get_closed, NULL, NULL, NULL},
    {NULL},
};

static PyTypeObject OutputType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "media._core.Output",
    .tp_doc = PyDoc_STR("One subscriber's forwarder: rewrite, history, SRTP, send."),
    .tp_basicsize = sizeof(Output),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = Output_new,
    .tp_init = (initproc)Output_init,
    .tp_dealloc = (destructor)Output_dealloc,
    .tp_methods = Output_methods,
    .tp_members = Output_members,
    .tp_getset = Output_getset,
};

/* ------------------------------------------------------------------------------------------
 * Router
 */

typedef struct {
    uint32_t ssrc;
    Output *output;
} Route;

/*
 * A VP8 or audio source whose packets are handled here, not in Python (media/continuation.py):
 * Python arms it after a packet it handled itself, naming the packet expected next; a packet
 * that is exactly that (the next sequence number, nothing to decide: not a keyframe's start)
 * updates the receiver's state through these objects and is not handed to Python, and arms
 * the source for the one after it.
 */
typedef struct {
    uint32_t ssrc;
    int payload_type;
    int next_sequence; /* -1: disarmed */
    uint32_t timestamp; /* the last packet's (= its StreamStatistics' _last_timestamp) */
    /* CLOCK_MONOTONIC ns from which the next packet is Python's again: Python's checks (and
     * aiortc's active-SSRC time) are redone at least once every HANDBACK_NS. */
    long long handback_ns;
    int clock_rate;
    int video; /* VP8: a keyframe's start is Python's, a marker ends a frame; else a packet is
                * an audio frame */
    int abs_send_time_id; /* 0: none negotiated */
    /* Per one-byte extension id: 0 any length (ignored by aiortc), n > 0 exactly n bytes,
     * -1 leave the packet to Python (mid, rid: aiortc reads and checks them). */
    signed char extension_lengths[16];
    int mid_id; /* 0: none; else its value must be `mid` (the receiver's, as aiortc routes) */
    uint8_t mid[16];
    Py_ssize_t mid_length;
    PyObject *statistics;   /* aiortc's StreamStatistics of the source */
    PyObject *nack;         /* its NACK generator, or None */
    PyObject *add_frame;    /* FrameBuffer.add_continued */
    PyObject *estimate;     /* the bandwidth estimator's add, or None */
    PyObject *publication;  /* packets and bytes counted as Publication.forward does */
    PyObject *on_result;    /* called with add_continued's answer when it is not (False, None) */
    PyObject *on_remb;      /* called with the estimator's answer when it is not None */
} Continued;

#define MAX_CONTINUED 8
#define HANDBACK_NS 1000000000LL

static long long
monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

typedef struct {
    PyObject_HEAD
    srtp_function unprotect;
    void *context;
    PyObject *session; /* keeps `context` alive; compared by media/core.py */
    Route routes[MAX_ROUTES];
    int route_count;
    Continued continued[MAX_CONTINUED];
    int continued_count;
    unsigned long long continued_packets;
    unsigned long long received;
    unsigned long long rejected; /* failed SRTP (authentication, replay) or too long */
    unsigned long long forwarded;
    uint8_t buffer[PACKET_CAPACITY + TRAILER_CAPACITY];
} Router;

static void
continued_release(Continued *entry)
{
    Py_CLEAR(entry->statistics);
    Py_CLEAR(entry->nack);
    Py_CLEAR(entry->add_frame);
    Py_CLEAR(entry->estimate);
    Py_CLEAR(entry->publication);
    Py_CLEAR(entry->on_result);
    Py_CLEAR(entry->on_remb);
}

static Continued *
continued_find(Router *self, uint32_t ssrc)
{
    for (int i = 0; i < self->continued_count; i++)
        if (self->continued[i].ssrc == ssrc)
            return &self->continued[i];
    return NULL;
}

/* The continued sources hold the receiver's objects, whose closures hold the transport that
 * holds this Router: the collector must see through it. */
static int
Router_traverse(Router *self, visitproc visit, void *arg)
{
    for (int i = 0; i < self->continued_count; i++) {
        Continued *entry = &self->continued[i];
        Py_VISIT(entry->statistics);
        Py_VISIT(entry->nack);
        Py_VISIT(entry->add_frame);
        Py_VISIT(entry->estimate);
        Py_VISIT(entry->publication);
        Py_VISIT(entry->on_result);
        Py_VISIT(entry->on_remb);
    }
    return 0;
}

static int
Router_clear(Router *self)
{
    for (int i = 0; i < self->continued_count; i++)
        continued_release(&self->continued[i]);
    self->continued_count = 0;
    return 0;
}

static void
Router_dealloc(Router *self)
{
    PyObject_GC_UnTrack(self);
    for (int i = 0; i < self->route_count; i++)
        Py_DECREF(self->routes[i].output);
    for (int i = 0; i < self->continued_count; i++)
        continued_release(&self->continued[i]);
    Py_XDECREF(self->session);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Router_attach(Router *self, PyObject *args)
{
    unsigned long long unprotect, context;
    PyObject *session;
    if (!PyArg_ParseTuple(args, "OKK", &session, &unprotect, &context))
        return NULL;
    if (!unprotect || !context) {
        PyErr_SetString(PyExc_ValueError, "no SRTP function or context");
        return NULL;
    }
    Py_XSETREF(self->session, Py_NewRef(session));
    self->unprotect = (srtp_function)(uintptr_t)unprotect;
    self->context = (void *)(uintptr_t)context;
    Py_RETURN_NONE;
}

static PyObject *
Router_get_session(Router *self, void *Py_UNUSED(closure))
{
    return Py_NewRef(self->session ? self->session : Py_None);
}

static PyObject *
Router_route(Router *self, PyObject *args)
{
    unsigned int ssrc;
    PyObject *output;
    if (!PyArg_ParseTuple(args, "IO!", &ssrc, &OutputType, &output))
        return NULL;
    for (int i = 0; i < self->route_count; i++) {
        if (self->routes[i].output == (Output *)output) {
            self->routes[i].ssrc = ssrc;
            Py_RETURN_NONE;
        }
    }
    if (self->route_count == MAX_ROUTES) {
        PyErr_SetString(PyExc_OverflowError, "too many routes on one transport");
        return NULL;
    }
    self->routes[self->route_count].ssrc = ssrc;
    self->routes[self->route_count].output = (Output *)Py_NewRef(output);
    self->route_count++;
    Py_RETURN_NONE;
}

static PyObject *
Router_unroute(Router *self, PyObject *output)
{
    for (int i = 0; i < self->route_count; i++) {
        if (self->routes[i].output == (Output *)output) {
            Output *removed = self->routes[i].output;
            self->routes[i] = self->routes[self->route_count - 1];
            self->route_count--;
            Py_DECREF(removed);
            Py_RETURN_TRUE;
        }
    }
    Py_RETURN_FALSE;
}

/*
 * The parts of an RTP packet the forward needs, or 0 where this packet is left to Python
 * (not version 2, truncated, bad padding, an extension block this does not read).
 */
typedef struct {
    int marker;
    int payload_type;
    uint16_t sequence;
    uint32_t timestamp;
    uint32_t ssrc;
    const uint8_t *payload;
    Py_ssize_t payload_length;
    const uint8_t *extensions; /* one-byte elements, or NULL */
    Py_ssize_t extensions_length;
} Parsed;

static int
parse_rtp(const uint8_t *data, Py_ssize_t length, Parsed *parsed)
{
    if (length < 12 || (data[0] >> 6) != 2)
        return 0;
    Py_ssize_t position = 12 + 4 * (data[0] & 0x0F);
    Py_ssize_t end = length;
    if (data[0] & 0x20) {
        uint8_t padding = data[length - 1];
        if (padding == 0 || padding > length - position)
            return 0;
        end -= padding;
    }
    parsed->extensions = NULL;
    parsed->extensions_length = 0;
    if (data[0] & 0x10) {
        if (position + 4 > end)
            return 0;
        unsigned int profile = (unsigned int)data[position] << 8 | data[position + 1];
        Py_ssize_t words = (Py_ssize_t)data[position + 2] << 8 | data[position + 3];
        if (position + 4 + 4 * words > end)
            return 0;
        if (profile == ONE_BYTE_PROFILE) {
            parsed->extensions = data + position + 4;
            parsed->extensions_length = 4 * words;
        } else {
            return 0;
        }
        position += 4 + 4 * words;
    }
    if (position > end)
        return 0;
    parsed->marker = data[1] >> 7;
    parsed->payload_type = data[1] & 0x7F;
    parsed->sequence = (uint16_t)(data[2] << 8 | data[3]);
    parsed->timestamp = get32(data + 4);
    parsed->ssrc = get32(data + 8);
    parsed->payload = data + position;
    parsed->payload_length = end - position;
    return 1;
}

/* The audio level byte (RFC 6464) with extension id `id`: -1 if absent, -2 if unreadable. */
static int
audio_level(const Parsed *parsed, int id)
{
    const uint8_t *at = parsed->extensions;
    Py_ssize_t left = parsed->extensions_length;
    while (left > 0) {
        int element_id = at[0] >> 4;
        Py_ssize_t element_length = (at[0] & 0x0F) + 1;
        if (element_id == 0) { /* padding byte */
            at++;
            left--;
            continue;
        }
        if (element_id == 15 || element_length > left - 1)
            return -2;
        if (element_id == id)
            return element_length == 1 ? at[1] : -2;
        at += 1 + element_length;
        left -= 1 + element_length;
    }
    return -1;
}

static PyObject *str_packets_received, *str_max_seq, *str_last_arrival, *str_last_timestamp,
    *str_jitter_q4, *str_packets, *str_bytes, *str_frames;

static PyObject *
Router_continue_with(Router *self, PyObject *args)
{
    unsigned int ssrc;
    int payload_type, clock_rate, video, abs_send_time_id, mid_id;
    const char *lengths, *mid;
    Py_ssize_t lengths_size, mid_length;
    PyObject *statistics, *nack, *add_frame, *estimate, *publication, *on_result, *on_remb;
    if (!PyArg_ParseTuple(args, "Iiipiy#iy#OOOOOOO", &ssrc, &payload_type, &clock_rate,
                          &video, &abs_send_time_id, &lengths, &lengths_size, &mid_id, &mid,
                          &mid_length, &statistics, &nack, &add_frame, &estimate, &publication,
                          &on_result, &on_remb))
        return NULL;
    if (lengths_size != 16 || clock_rate <= 0 || abs_send_time_id < 0 || abs_send_time_id > 14 ||
        mid_id < 0 || mid_id > 14 || mid_length < 1 || mid_length > 16) {
        PyErr_SetString(PyExc_ValueError,
                        "16 extension lengths, a clock rate, ids 0-14, a mid of 1-16 bytes");
        return NULL;
    }
    Continued *entry = continued_find(self, ssrc);
    if (entry == NULL) {
        if (self->continued_count == MAX_CONTINUED) {
            PyErr_SetString(PyExc_OverflowError, "too many continued sources on one transport");
            return NULL;
        }
        entry = &self->continued[self->continued_count++];
        memset(entry, 0, sizeof(*entry));
    } else {
        continued_release(entry);
    }
    entry->ssrc = ssrc;
    entry->payload_type = payload_type;
    entry->next_sequence = -1;
    entry->clock_rate = clock_rate;
    entry->video = video;
    entry->abs_send_time_id = abs_send_time_id;
    memcpy(entry->extension_lengths, lengths, 16);
    entry->mid_id = mid_id;
    memcpy(entry->mid, mid, (size_t)mid_length);
    entry->mid_length = mid_length;
    entry->statistics = Py_NewRef(statistics);
    entry->nack = Py_NewRef(nack);
    entry->add_frame = Py_NewRef(add_frame);
    entry->estimate = Py_NewRef(estimate);
    entry->publication = Py_NewRef(publication);
    entry->on_result = Py_NewRef(on_result);
    entry->on_remb = Py_NewRef(on_remb);
    Py_RETURN_NONE;
}

static PyObject *
Router_arm(Router *self, PyObject *args)
{
    unsigned int ssrc, sequence, timestamp;
    if (!PyArg_ParseTuple(args, "III", &ssrc, &sequence, &timestamp))
        return NULL;
    Continued *entry = continued_find(self, ssrc);
    if (entry == NULL)
        Py_RETURN_FALSE;
    /* At the wrap aiortc's statistics count a cycle: that packet is Python's. */
    entry->next_sequence = (sequence & 0xFFFF) ? (int)(sequence & 0xFFFF) : -1;
    entry->timestamp = timestamp;
    entry->handback_ns = monotonic_ns() + HANDBACK_NS;
    Py_RETURN_TRUE;
}

/* The continued source named by `arg` (an SSRC): 1 and *entry (NULL if none), or -1. */
static int
continued_named(Router *self, PyObject *arg, Continued **entry)
{
    unsigned long ssrc = PyLong_AsUnsignedLong(arg);
    if (ssrc == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    *entry = continued_find(self, (uint32_t)ssrc);
    return 1;
}

static PyObject *
Router_disarm(Router *self, PyObject *arg)
{
    Continued *entry;
    if (continued_named(self, arg, &entry) < 0)
        return NULL;
    if (entry != NULL)
        entry->next_sequence = -1;
    Py_RETURN_NONE;
}

static PyObject *
Router_forget(Router *self, PyObject *arg)
{
    Continued *entry;
    if (continued_named(self, arg, &entry) < 0)
        return NULL;
    if (entry == NULL)
        Py_RETURN_FALSE;
    continued_release(entry);
    *entry = self->continued[--self->continued_count];
    Py_RETURN_TRUE;
}

static PyObject *
Router_armed(Router *self, PyObject *arg)
{
    Continued *entry;
    if (continued_named(self, arg, &entry) < 0)
        return NULL;
    if (entry == NULL || entry->next_sequence < 0)
        Py_RETURN_NONE;
    return PyLong_FromLong(entry->next_sequence);
}

/* obj.name = value (a new reference, consumed); -1 on error. */
static int
set_attribute(PyObject *obj, PyObject *name, PyObject *value)
{
    if (value == NULL)
        return -1;
    int status = PyObject_SetAttr(obj, name, value);
    Py_DECREF(value);
    return status;
}

/* *value = obj.name, an int; -1 on error. */
static int
get_long_long(PyObject *obj, PyObject *name, long long *value)
{
    PyObject *attribute = PyObject_GetAttr(obj, name);
    if (attribute == NULL)
        return -1;
    *value = PyLong_AsLongLong(attribute);
    Py_DECREF(attribute);
    return (*value == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int
add_to_attribute(PyObject *obj, PyObject *name, long long delta)
{
    long long current;
    if (get_long_long(obj, name, &current) < 0)
        return -1;
    return set_attribute(obj, name, PyLong_FromLongLong(current + delta));
}

/* media/rtp_keyframes.py's vp8_starts_keyframe (RFC 7741, RFC 6386 section 9.1). */
static int
vp8_starts_keyframe(const uint8_t *payload, Py_ssize_t length)
{
    if (length < 1 || !(payload[0] & 0x10) || (payload[0] & 0x07))
        return 0;
    Py_ssize_t offset = 1;
    if (payload[0] & 0x80) { /* X: an extension byte follows */
        if (length < 2)
            return 0;
        uint8_t extension = payload[1];
        offset = 2;
        if (extension & 0x80) { /* I: picture id, 7 or 15 bits */
            if (length <= offset)
                return 0;
            offset += (payload[offset] & 0x80) ? 2 : 1;
        }
        if (extension & 0x40) /* L: TL0PICIDX */
            offset += 1;
        if (extension & 0x30) /* T or K */
            offset += 1;
    }
    return length > offset && !(payload[offset] & 0x01);
}

/* Calls `callable(argument)` for its effect; -1 on error. */
static int
call_one(PyObject *callable, PyObject *argument)
{
    PyObject *result = PyObject_CallOneArg(callable, argument);
    if (result == NULL)
        return -1;
    Py_DECREF(result);
    return 0;
}

/* aiortc's StreamStatistics.add for the next packet in order (no cycle: the wrap is never
 * armed), arriving at `seconds`; the jitter step where the timestamp changed. */
static int
continued_statistics(Continued *entry, const Parsed *parsed, double seconds)
{
    PyObject *statistics = entry->statistics;
    long long arrival = (long long)(seconds * entry->clock_rate);
    if (add_to_attribute(statistics, str_packets_received, 1) < 0 ||
        set_attribute(statistics, str_max_seq, PyLong_FromLong(parsed->sequence)) < 0)
        return -1;
    if (parsed->timestamp != entry->timestamp) {
        long long last_arrival, jitter_q4;
        if (get_long_long(statistics, str_last_arrival, &last_arrival) < 0 ||
            get_long_long(statistics, str_jitter_q4, &jitter_q4) < 0)
            return -1;
        long long diff = llabs((arrival - last_arrival) -
                               ((long long)parsed->timestamp - (long long)entry->timestamp));
        jitter_q4 += diff - ((jitter_q4 + 8) >> 4);
        if (set_attribute(statistics, str_jitter_q4, PyLong_FromLongLong(jitter_q4)) < 0 ||
            set_attribute(statistics, str_last_timestamp,
                          PyLong_FromUnsignedLong(parsed->timestamp)) < 0)
            return -1;
    }
    return set_attribute(statistics, str_last_arrival, PyLong_FromLongLong(arrival));
}

/*
 * The armed source's next packet, as media/sync_receive.py's handle_rtp_packet would handle
 * it (estimator, statistics, NACK generator, frame buffer, the publication's counters), in
 * the same order. 0: not such a packet, Python's; 1: handled; -1: an error is set.
 */
static int
continued_packet(Router *self, Continued *entry, const Parsed *parsed, Py_ssize_t padding)
{
    if (parsed->sequence != entry->next_sequence || parsed->payload_type != entry->payload_type)
        return 0; /* a gap, a repair, another stream */
    /* A keyframe starts a new subscriber's stream and the publication's replay: Python's. */
    if (entry->video && vp8_starts_keyframe(parsed->payload, parsed->payload_length))
        return 0;
    if (monotonic_ns() >= entry->handback_ns)
        return 0; /* Python's turn to check that this source may still be handled here */
    long abs_send_time = -1;
    const uint8_t *at = parsed->extensions;
    Py_ssize_t left = parsed->extensions_length;
    while (left > 0) { /* aiortc's unpack_header_extensions, one-byte form */
        if (at[0] == 0) {
            at++;
            left--;
            continue;
        }
        int id = at[0] >> 4;
        Py_ssize_t length = (at[0] & 0x0F) + 1;
        if (length > left - 1)
            return 0;
        if (id == entry->mid_id) {
            /* aiortc routes by it: this receiver's own mid routes here, as before */
            if (length != entry->mid_length || memcmp(at + 1, entry->mid, (size_t)length))
                return 0;
            at += 1 + length;
            left -= 1 + length;
            continue;
        }
        int expected = entry->extension_lengths[id];
        if (id == 15 || expected < 0 || (expected && length != expected))
            return 0;
        if (id == entry->abs_send_time_id)
            abs_send_time = (long)at[1] << 16 | (long)at[2] << 8 | at[3];
        at += 1 + length;
        left -= 1 + length;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    self->continued_packets++;
    totals.continued++;

    if (abs_send_time >= 0 && entry->estimate != Py_None) {
        /* media/fast_clock.py's ms_from_ns: milliseconds since the NTP epoch */
        unsigned long long micros = (unsigned long long)now.tv_sec * 1000000ULL +
                                    (unsigned long long)now.tv_nsec / 1000 +
                                    NTP_UNIX_OFFSET_S * 1000000ULL;
        PyObject *call[4] = {
            PyLong_FromUnsignedLongLong(micros / 1000), PyLong_FromLong(abs_send_time),
            PyLong_FromSsize_t(parsed->payload_length + padding),
            PyLong_FromUnsignedLong(parsed->ssrc)};
        PyObject *remb = NULL;
        if (call[0] && call[1] && call[2] && call[3])
            remb = PyObject_Vectorcall(entry->estimate, call, 4, NULL);
        for (int i = 0; i < 4; i++)
            Py_XDECREF(call[i]);
        if (remb == NULL)
            return -1;
        int status = remb == Py_None ? 0 : call_one(entry->on_remb, remb);
        Py_DECREF(remb);
        if (status < 0)
            return -1;
    }

    double seconds = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    if (continued_statistics(entry, parsed, seconds) < 0)
        return -1;
    /* Armed for the one after (the wrap is Python's: a statistics cycle). */
    entry->next_sequence = (entry->next_sequence + 1) & 0xFFFF;
    if (entry->next_sequence == 0)
        entry->next_sequence = -1;
    entry->timestamp = parsed->timestamp;
    /* The NACK generator, nothing missing: the next number is only its new max_seq. */
    if (entry->nack != Py_None &&
        set_attribute(entry->nack, str_max_seq, PyLong_FromLong(parsed->sequence)) < 0)
        return -1;

    PyObject *call[4] = {PyLong_FromLong(parsed->sequence),
                         PyLong_FromUnsignedLong(parsed->timestamp),
                         Py_NewRef(parsed->marker ? Py_True : Py_False),
                         PyBytes_FromStringAndSize((const char *)parsed->payload,
                                                   parsed->payload_length)};
    PyObject *result = NULL;
    if (call[0] && call[1] && call[3])
        result = PyObject_Vectorcall(entry->add_frame, call, 4, NULL);
    for (int i = 0; i < 4; i++)
        Py_XDECREF(call[i]);
    if (result == NULL) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            /* not depayloadable: dropped before the forward hook, as sync_receive does */
            PyErr_Clear();
            return 1;
        }
        return -1;
    }
    int status = 0;
    if (add_to_attribute(entry->publication, str_packets, 1) < 0 ||
        add_to_attribute(entry->publication, str_bytes, parsed->payload_length) < 0 ||
        ((parsed->marker || !entry->video) &&
         add_to_attribute(entry->publication, str_frames, 1) < 0))
        status = -1;
    else if (!(PyTuple_CheckExact(result) && PyTuple_GET_SIZE(result) == 2 &&
               PyTuple_GET_ITEM(result, 0) == Py_False && PyTuple_GET_ITEM(result, 1) == Py_None))
        status = call_one(entry->on_result, result);
    Py_DECREF(result);
    return status < 0 ? -1 : 1;
}

static PyObject *
Router_receive(Router *self, PyObject *arg)
{
    if (!PyBytes_CheckExact(arg)) {
        PyErr_SetString(PyExc_TypeError, "packet must be bytes");
        return NULL;
    }
    if (self->session == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "no SRTP session attached");
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(arg);
    self->received++;
    totals.received++;
    if (size > PACKET_CAPACITY) {
        self->rejected++;
        totals.rejected++;
        Py_RETURN_NONE;
    }
    memcpy(self->buffer, PyBytes_AS_STRING(arg), (size_t)size);
    int length = (int)size;
    if (self->unprotect(self->context, self->buffer, &length) != 0) {
        self->rejected++;
        totals.rejected++;
        Py_RETURN_NONE;
    }
    unsigned long long serial = 0;
    Parsed parsed;
    int parsed_ok = (self->route_count || self->continued_count) &&
                    parse_rtp(self->buffer, length, &parsed);
    if (self->route_count && parsed_ok) {
        for (int i = 0; i < self->route_count; i++) {
            Output *output = self->routes[i].output;
            if (self->routes[i].ssrc != parsed.ssrc ||
                output->source_payload_type != parsed.payload_type)
                continue;
            int level = -1;
            if (output->source_audio_level_id && output->audio_level_id) {
                level = audio_level(&parsed, output->source_audio_level_id);
                if (level == -2)
                    continue; /* Python decides about what it cannot read either */
            }
            if (serial == 0)
                serial = ++next_serial;
            output_forward(output, parsed.marker, parsed.sequence, parsed.timestamp,
                           parsed.payload, parsed.payload_length, level);
            /* Sent or counted as not sent: either way Python must not send it again. */
            output->last_serial = serial;
        }
        if (serial) {
            self->forwarded++;
            totals.routed++;
        }
    }
    if (parsed_ok && self->continued_count) {
        Continued *entry = continued_find(self, parsed.ssrc);
        if (entry != NULL && entry->next_sequence >= 0) {
            int routed_elsewhere = 0; /* a route of this source that did not forward it */
            for (int i = 0; i < self->route_count; i++)
                if (self->routes[i].ssrc == parsed.ssrc &&
                    self->routes[i].output->last_serial != serial)
                    routed_elsewhere = 1;
            Py_ssize_t padding = (self->buffer[0] & 0x20) ? self->buffer[length - 1] : 0;
            int handled = routed_elsewhere ? 0 : continued_packet(self, entry, &parsed, padding);
            if (handled < 0) {
                /* State may be half updated: Python takes this source over again. */
                entry->next_sequence = -1;
                PyErr_WriteUnraisable((PyObject *)self);
                Py_RETURN_TRUE;
            }
            if (handled)
                Py_RETURN_TRUE;
            entry->next_sequence = -1;
        }
    }
    PyObject *plain = PyBytes_FromStringAndSize((const char *)self->buffer, length);
    if (plain == NULL)
        return NULL;
    PyObject *result = PyTuple_New(2);
    if (result == NULL) {
        Py_DECREF(plain);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, plain);
    PyTuple_SET_ITEM(result, 1, PyLong_FromUnsignedLongLong(serial));
    return result;
}

static PyMethodDef Router_methods[] = {
    {"attach", (PyCFunction)Router_attach, METH_VARARGS,
     "attach(session, unprotect, context): the transport's receiving SRTP session"},
    {"receive", (PyCFunction)Router_receive, METH_O,
     "receive(srtp) -> (rtp, serial) | True | None: unprotect, forward to the routed outputs; "
     "serial is 0 if no output forwarded it, True if handled here (continue_with), None if "
     "SRTP rejected the packet"},
    {"continue_with", (PyCFunction)Router_continue_with, METH_VARARGS,
     "continue_with(ssrc, payload_type, clock_rate, video, abs_send_time_id, "
     "extension_lengths, mid_id, mid, statistics, nack, add_frame, estimate, publication, "
     "on_result, on_remb): a VP8 (video) or audio source whose packets in order may be "
     "handled here (disarmed until arm)"},
    {"arm", (PyCFunction)Router_arm, METH_VARARGS,
     "arm(ssrc, next_sequence, timestamp) -> bool: handle that packet here (and the ones after "
     "it) unless it starts a keyframe; `timestamp`: the packet's before it"},
    {"disarm", (PyCFunction)Router_disarm, METH_O, "disarm(ssrc): every packet to Python"},
    {"forget", (PyCFunction)Router_forget, METH_O, "forget(ssrc) -> bool"},
    {"armed", (PyCFunction)Router_armed, METH_O,
     "armed(ssrc) -> the sequence number handled here next, or None"},
    {"route", (PyCFunction)Router_route, METH_VARARGS,
     "route(ssrc, output): forward that source's packets to output (moves an existing route)"},
    {"unroute", (PyCFunction)Router_unroute, METH_O, "unroute(output) -> bool"},
    {NULL},
};

static PyMemberDef Router_members[] = {
    {"received", T_ULONGLONG, offsetof(Router, received), READONLY, NULL},
    {"rejected", T_ULONGLONG, offsetof(Router, rejected), READONLY, NULL},
    {"forwarded", T_ULONGLONG, offsetof(Router, forwarded), READONLY, NULL},
    {"route_count", T_INT, offsetof(Router, route_count), READONLY, NULL},
    {"continued", T_ULONGLONG, offsetof(Router, continued_packets), READONLY,
     "packets handled here without Python (continue_with)"},
    {NULL},
};

static PyGetSetDef Router_getset[] = {
    {"session", (getter)Router_get_session, NULL, NULL, NULL},
    {NULL},
};

static PyTypeObject RouterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "media._core.Router",
    .tp_doc = PyDoc_STR("One publisher transport's SRTP receive and forwarding routes."),
    .tp_basicsize = sizeof(Router),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Router_dealloc,
    .tp_traverse = (traverseproc)Router_traverse,
    .tp_clear = (inquiry)Router_clear,
    .tp_methods = Router_methods,
    .tp_members = Router_members,
    .tp_getset = Router_getset,
};

static PyObject *
core_ntp_now(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromUnsignedLongLong(ntp_now());
}

static PyObject *
core_totals(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("{sKsKsKsKsKsK}", "received", totals.received, "rejected",
                         totals.rejected, "routed", totals.routed, "continued", totals.continued,
                         "sent", totals.sent, "send_failures", totals.send_failures);
}

static PyMethodDef core_methods[] = {
    {"ntp_now", core_ntp_now, METH_NOARGS, "the NTP time the outputs stamp packets with"},
    {"totals", core_totals, METH_NOARGS,
     "the process's packet counts over every Router and Output, ended ones included"},
    {NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "media._core",
    .m_doc = PyDoc_STR("The per-packet forwarding path in C (see media/core.py)."),
    .m_size = -1,
    .m_methods = core_methods,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    if (PyType_Ready(&OutputType) < 0 || PyType_Ready(&RouterType) < 0)
        return NULL;
    str_packets_received = PyUnicode_InternFromString("packets_received");
    str_max_seq = PyUnicode_InternFromString("max_seq");
    str_last_arrival = PyUnicode_InternFromString("_last_arrival");
    str_last_timestamp = PyUnicode_InternFromString("_last_timestamp");
    str_jitter_q4 = PyUnicode_InternFromString("_jitter_q4");
    str_packets = PyUnicode_InternFromString("packets");
    str_bytes = PyUnicode_InternFromString("bytes");
    str_frames = PyUnicode_InternFromString("frames");
    if (!str_packets_received || !str_max_seq || !str_last_arrival || !str_last_timestamp ||
        !str_jitter_q4 || !str_packets || !str_bytes || !str_frames)
        return NULL;
    PyObject *module = PyModule_Create(&core_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "Output", (PyObject *)&OutputType) < 0 ||
        PyModule_AddObjectRef(module, "Router", (PyObject *)&RouterType) < 0 ||
        PyModule_AddIntConstant(module, "HISTORY_SIZE", HISTORY_SIZE) < 0 ||
        PyModule_AddIntConstant(module, "PACKET_CAPACITY", PACKET_CAPACITY) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
