/* Byte-level kernels of the HJ 212 fast path (ingest/hj212/batch.py): one pass over a chunk's bytes
 * instead of numpy's many passes over position arrays. No numpy C API: arguments are buffers, results
 * are bytearrays the caller views with numpy.frombuffer. Nothing here reads outside a buffer it was
 * given, whatever the bytes or positions: buffer sizes are checked first, item positions are only
 * compared and copied, and a byte range is checked against the data's length before it is read. */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE /* strtod_l */
#include <Python.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static locale_t c_locale; /* strtod in the C locale, whatever the process's LC_NUMERIC */

static PyObject *new_bytearray(Py_ssize_t size) {
    return PyByteArray_FromStringAndSize(NULL, size);
}

/* the first index i in [from, n) with a[i] >= x, else n (numpy.searchsorted, side="left", given
 * that a[from - 1] < x): gallops forward from `from` first, as regions come in ascending order and
 * each one's answer lies a few positions past the previous one's */
static Py_ssize_t lower_bound(const int64_t *a, Py_ssize_t n, int64_t x, Py_ssize_t from) {
    Py_ssize_t lo = from, hi = n, step = 1;
    while (lo + step < n && a[lo + step] < x) {
        lo += step;
        step *= 2;
    }
    if (lo + step < n) hi = lo + step + 1;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int int64s(Py_buffer *buf, const char *name, Py_ssize_t *count) {
    if (buf->len % (Py_ssize_t)sizeof(int64_t) != 0) {
        PyErr_Format(PyExc_ValueError, "%s: not a buffer of int64", name);
        return -1;
    }
    *count = buf->len / (Py_ssize_t)sizeof(int64_t);
    return 0;
}

/* items(pos, classes, rs, re) -> (region, key_start, eq, value_end, regular): batch._items'
 * contract. pos: int64 ascending, the special bytes' positions; classes: one byte per pos (1 ';',
 * 2 ',', 3 '='); rs/re: int64 region bounds [rs, re). A region's specials are those of pos inside
 * it; items are read off the even ones (the '='); a region is regular when they alternate '='
 * delimiter '=' … '=' (an odd count) or it is empty. Items of irregular regions are returned too
 * (the caller drops their rows). */
static PyObject *items(PyObject *self, PyObject *args) {
    Py_buffer bpos, bcls, brs, bre;
    if (!PyArg_ParseTuple(args, "y*y*y*y*:items", &bpos, &bcls, &brs, &bre)) return NULL;
    PyObject *result = NULL, *out[5] = {NULL, NULL, NULL, NULL, NULL};
    Py_ssize_t *bounds = NULL;
    Py_ssize_t npos, nreg, nre;
    if (int64s(&bpos, "pos", &npos) || int64s(&brs, "rs", &nreg) || int64s(&bre, "re", &nre)) goto done;
    if (bcls.len != npos || nre != nreg) {
        PyErr_SetString(PyExc_ValueError, "items: classes must match pos, re must match rs");
        goto done;
    }
    const int64_t *pos = (const int64_t *)bpos.buf, *rs = (const int64_t *)brs.buf;
    const int64_t *re = (const int64_t *)bre.buf;
    const uint8_t *cls = (const uint8_t *)bcls.buf;
    bounds = PyMem_Malloc(sizeof(Py_ssize_t) * 2 * (size_t)(nreg > 0 ? nreg : 1));
    if (bounds == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t total = 0, hint = 0; /* where the last region ended: the next one's search starts there */
    for (Py_ssize_t r = 0; r < nreg; r++) {
        if (re[r] < rs[r]) {
            PyErr_SetString(PyExc_ValueError, "items: a region ends before it starts");
            goto done;
        }
        if (hint > 0 && pos[hint - 1] >= rs[r]) hint = 0; /* regions out of order: search from 0 */
        Py_ssize_t lo = lower_bound(pos, npos, rs[r], hint);
        Py_ssize_t hi = lower_bound(pos, npos, re[r], lo), cnt = hi - lo;
        hint = hi;
        bounds[2 * r] = lo;
        bounds[2 * r + 1] = hi;
        total += (cnt + 1) / 2;
    }
    for (int k = 0; k < 4; k++)
        if ((out[k] = new_bytearray(total * (Py_ssize_t)sizeof(int64_t))) == NULL) goto done;
    if ((out[4] = new_bytearray(nreg)) == NULL) goto done;
    int64_t *region = (int64_t *)PyByteArray_AS_STRING(out[0]);
    int64_t *key_start = (int64_t *)PyByteArray_AS_STRING(out[1]);
    int64_t *eq = (int64_t *)PyByteArray_AS_STRING(out[2]);
    int64_t *value_end = (int64_t *)PyByteArray_AS_STRING(out[3]);
    uint8_t *regular = (uint8_t *)PyByteArray_AS_STRING(out[4]);
    Py_ssize_t k = 0;
    for (Py_ssize_t r = 0; r < nreg; r++) {
        Py_ssize_t j = 0;
        int ok = 1;
        int64_t previous = 0;
        for (Py_ssize_t i = bounds[2 * r]; i < bounds[2 * r + 1]; i++) {
            int even = (j & 1) == 0;
            if ((cls[i] == 3) != even) ok = 0;
            if (even) {
                region[k] = (int64_t)r;
                key_start[k] = j == 0 ? rs[r] : previous + 1;
                eq[k] = pos[i];
                value_end[k++] = re[r]; /* the next delimiter's position, if one follows */
            } else {
                value_end[k - 1] = pos[i];
            }
            previous = pos[i];
            j++;
        }
        /* an odd count of specials (k=v;k=v …), or an empty region; a region with text but no
         * specials (CP=&&abc&&) is an item without '=': the reference parser decides (bad_cp) */
        regular[r] = (uint8_t)(ok && ((j & 1) == 1 || (j == 0 && re[r] == rs[r])));
    }
    result = Py_BuildValue("(OOOOO)", out[0], out[1], out[2], out[3], out[4]);
done:
    for (int i = 0; i < 5; i++) Py_XDECREF(out[i]);
    PyMem_Free(bounds);
    PyBuffer_Release(&bpos);
    PyBuffer_Release(&bcls);
    PyBuffer_Release(&brs);
    PyBuffer_Release(&bre);
    return result;
}

/* The byte ranges [starts[i], ends[i]) of data, checked: int64 buffers of one length, every range
 * inside data. 0 and their count in *n, else -1 with a ValueError set. */
static int byte_ranges(const char *kernel, Py_buffer *data, Py_buffer *bks, Py_buffer *bke, Py_ssize_t *n) {
    Py_ssize_t nke;
    if (int64s(bks, "starts", n) || int64s(bke, "ends", &nke)) return -1;
    if (nke != *n) {
        PyErr_Format(PyExc_ValueError, "%s: starts and ends differ in length", kernel);
        return -1;
    }
    const int64_t *ks = (const int64_t *)bks->buf, *ke = (const int64_t *)bke->buf;
    for (Py_ssize_t i = 0; i < *n; i++)
        if (ks[i] < 0 || ke[i] < ks[i] || ke[i] > data->len) {
            PyErr_Format(PyExc_ValueError, "%s: a range lies outside the data", kernel);
            return -1;
        }
    return 0;
}

/* 64-bit FNV-1a over the bytes, then a multiplicative mix of the length in */
static uint64_t hash_bytes(const uint8_t *b, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return (h ^ (uint64_t)n) * 0x9E3779B97F4A7C15ULL;
}

/* string_ids(data, starts, ends) -> (ids: int64 bytes, first: int64 bytes): for the byte strings
 * data[starts[i]:ends[i]], an id per string (0, 1, … in order of first appearance) and, per id, the
 * index i of its first appearance. Strings are compared byte for byte: no two strings share an id. */
static PyObject *string_ids(PyObject *self, PyObject *args) {
    Py_buffer bdata, bks, bke;
    if (!PyArg_ParseTuple(args, "y*y*y*:string_ids", &bdata, &bks, &bke)) return NULL;
    PyObject *result = NULL, *ids_out = NULL, *first_out = NULL;
    int64_t *slots = NULL, *first = NULL;
    Py_ssize_t n;
    if (byte_ranges("string_ids", &bdata, &bks, &bke, &n)) goto done;
    const uint8_t *data = (const uint8_t *)bdata.buf;
    const int64_t *ks = (const int64_t *)bks.buf, *ke = (const int64_t *)bke.buf;
    if ((ids_out = new_bytearray(n * (Py_ssize_t)sizeof(int64_t))) == NULL) goto done;
    int64_t *ids = (int64_t *)PyByteArray_AS_STRING(ids_out);
    size_t cap = 64, distinct = 0;  /* open addressing; slots hold an id, or -1 when empty */
    slots = PyMem_Malloc(cap * sizeof(int64_t));
    first = PyMem_Malloc(cap / 2 * sizeof(int64_t));
    if (slots == NULL || first == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memset(slots, 0xff, cap * sizeof(int64_t));
    for (Py_ssize_t i = 0; i < n; i++) {
        const uint8_t *key = data + ks[i];
        Py_ssize_t len = (Py_ssize_t)(ke[i] - ks[i]);
        size_t at = (size_t)(hash_bytes(key, len) >> 7) & (cap - 1);
        for (;;) {
            int64_t id = slots[at];
            if (id < 0) {
                if (2 * (distinct + 1) > cap) { /* keep the table at most half full: grow, re-place */
                    size_t wider = cap * 2;
                    int64_t *grown = PyMem_Malloc(wider * sizeof(int64_t));
                    int64_t *more = PyMem_Realloc(first, wider / 2 * sizeof(int64_t));
                    if (grown == NULL || more == NULL) {
                        PyMem_Free(grown);
                        if (more != NULL) first = more;
                        PyErr_NoMemory();
                        goto done;
                    }
                    first = more;
                    memset(grown, 0xff, wider * sizeof(int64_t));
                    for (size_t d = 0; d < distinct; d++) {
                        int64_t j = first[d];
                        size_t to = (size_t)(hash_bytes(data + ks[j], (Py_ssize_t)(ke[j] - ks[j])) >> 7) &
                                    (wider - 1);
                        while (grown[to] >= 0) to = (to + 1) & (wider - 1);
                        grown[to] = (int64_t)d;
                    }
                    PyMem_Free(slots);
                    slots = grown;
                    cap = wider;
                    at = (size_t)(hash_bytes(key, len) >> 7) & (cap - 1);
                    continue;
                }
                slots[at] = (int64_t)distinct;
                first[distinct] = (int64_t)i;
                ids[i] = (int64_t)distinct++;
                break;
            }
            int64_t j = first[id];
            if (ke[j] - ks[j] == len && memcmp(data + ks[j], key, (size_t)len) == 0) {
                ids[i] = id;
                break;
            }
            at = (at + 1) & (cap - 1);
        }
    }
    if ((first_out = new_bytearray((Py_ssize_t)distinct * (Py_ssize_t)sizeof(int64_t))) == NULL) goto done;
    memcpy(PyByteArray_AS_STRING(first_out), first, distinct * sizeof(int64_t));
    result = Py_BuildValue("(OO)", ids_out, first_out);
done:
    Py_XDECREF(ids_out);
    Py_XDECREF(first_out);
    PyMem_Free(slots);
    PyMem_Free(first);
    PyBuffer_Release(&bdata);
    PyBuffer_Release(&bks);
    PyBuffer_Release(&bke);
    return result;
}

static const double exact_powers_of_ten[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                             1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                             1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* The value of s[0:n] if it matches batch._NUMBER_RE (^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?
 * [0-9]+)?$) and is finite; else *ok = 0. Correctly rounded, so equal to Python's float(): digits
 * of an integer mantissa up to 2^53 scaled by at most 10^22 are one exact IEEE division (or
 * multiplication) of two exact doubles (Clinger's fast path); anything else goes to strtod, which
 * glibc rounds correctly, given a copy of the string only (the syntax is checked first, so strtod
 * never sees a hex float, "inf" or a locale's decimal point). */
static double parse_number(const uint8_t *s, Py_ssize_t n, int *ok) {
    Py_ssize_t i = 0, digits = 0, fraction = 0;
    int negative = 0, dot = 0, exponent = 0;
    uint64_t mantissa = 0;
    *ok = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
    for (; i < n; i++) {
        uint8_t c = s[i];
        if (c >= '0' && c <= '9') {
            if (digits < 19) mantissa = mantissa * 10 + (uint64_t)(c - '0');
            digits++;
            fraction += dot;
        } else if (c == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    if (digits == 0) return 0.0;
    if (i < n) {
        if (s[i] != 'e' && s[i] != 'E') return 0.0;
        Py_ssize_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-')) j++;
        if (j == n) return 0.0;
        for (; j < n; j++)
            if (s[j] < '0' || s[j] > '9') return 0.0;
        exponent = 1;
    }
    double value;
    if (!exponent && digits <= 19 && mantissa <= (1ULL << 53) && fraction <= 22) {
        value = (double)mantissa / exact_powers_of_ten[fraction];
        if (negative) value = -value;
    } else {
        char small[64], *copy = n < (Py_ssize_t)sizeof small ? small : PyMem_Malloc((size_t)n + 1);
        if (copy == NULL) return 0.0;
        memcpy(copy, s, (size_t)n);
        copy[n] = '\0';
        value = strtod_l(copy, NULL, c_locale);
        if (copy != small) PyMem_Free(copy);
    }
    *ok = isfinite(value);
    return value;
}

/* The value of s[0:n] if it matches batch._INT_RE (^[+-]?[0-9]{1,15}$), else *ok = 0: exact. */
static double parse_integer(const uint8_t *s, Py_ssize_t n, int *ok) {
    Py_ssize_t i = 0;
    int negative = 0;
    int64_t value = 0;
    *ok = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
    if (n - i < 1 || n - i > 15) return 0.0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0.0;
        value = value * 10 + (s[i] - '0');
    }
    *ok = 1;
    return negative ? -(double)value : (double)value;
}

/* Reads one byte range s[0:n] into an 8-byte value (written to `value`); whether it is one. */
typedef int (*range_reader)(const uint8_t *s, Py_ssize_t n, int option, unsigned char *value);

/* (values: 8 bytes each, valid: a byte each) of the byte ranges data[starts[i]:ends[i]], each read
 * by `read` (the kernels numbers and datatimes) */
static PyObject *read_ranges(const char *kernel, Py_buffer *bdata, Py_buffer *bks, Py_buffer *bke,
                             range_reader read, int option) {
    PyObject *result = NULL, *values_out = NULL, *valid_out = NULL;
    Py_ssize_t n;
    if (byte_ranges(kernel, bdata, bks, bke, &n)) goto done;
    const uint8_t *data = (const uint8_t *)bdata->buf;
    const int64_t *ks = (const int64_t *)bks->buf, *ke = (const int64_t *)bke->buf;
    if ((values_out = new_bytearray(n * 8)) == NULL) goto done;
    if ((valid_out = new_bytearray(n)) == NULL) goto done;
    unsigned char *values = (unsigned char *)PyByteArray_AS_STRING(values_out);
    uint8_t *valid = (uint8_t *)PyByteArray_AS_STRING(valid_out);
    for (Py_ssize_t i = 0; i < n; i++)
        valid[i] = (uint8_t)read(data + ks[i], (Py_ssize_t)(ke[i] - ks[i]), option, values + 8 * i);
    result = Py_BuildValue("(OO)", values_out, valid_out);
done:
    Py_XDECREF(values_out);
    Py_XDECREF(valid_out);
    return result;
}

/* A kernel (data, starts, ends, option) over read_ranges: `format` is its PyArg_ParseTuple format,
 * ending in ":<kernel name>", which read_ranges' errors name too. */
static PyObject *ranges_kernel(PyObject *args, const char *format, range_reader read) {
    Py_buffer bdata, bks, bke;
    int option;
    if (!PyArg_ParseTuple(args, format, &bdata, &bks, &bke, &option)) return NULL;
    PyObject *result = read_ranges(strchr(format, ':') + 1, &bdata, &bks, &bke, read, option);
    PyBuffer_Release(&bdata);
    PyBuffer_Release(&bks);
    PyBuffer_Release(&bke);
    return result;
}

static int read_number(const uint8_t *s, Py_ssize_t n, int integers, unsigned char *value) {
    int ok;
    double v = integers ? parse_integer(s, n, &ok) : parse_number(s, n, &ok);
    v = ok ? v : 0.0;
    memcpy(value, &v, 8);
    return ok;
}

/* numbers(data, starts, ends, integers) -> (values: float64 bytes, valid: uint8 bytes) of the
 * strings data[starts[i]:ends[i]]: see parse_number, or parse_integer where `integers`; an invalid
 * string's value is 0. */
static PyObject *numbers(PyObject *self, PyObject *args) {
    return ranges_kernel(args, "y*y*y*p:numbers", read_number);
}

/* classify(data, table) -> (positions: int64 bytes, classes: uint8 bytes): every i with
 * table[data[i]] != 0, in order, and that class. table: 256 bytes, one class per byte value. One
 * pass instead of numpy's compare per class, OR, flatnonzero and gather. The data is read 64 bytes
 * at a time into a bit mask of its marked bytes, and only the set bits are written out. Where the
 * table marks at most CLASSIFY_SET ASCII values and either every non-ASCII byte or none (the fast
 * path's table: ';' ',' '=' and non-ASCII), the mask comes from SSE2 compares (about 5x faster on a
 * capture, where ~13 % of the bytes are marked); otherwise from the table, byte by byte. The output
 * always has room for a whole 64 KiB block beyond what it has kept. */
#define CLASSIFY_BLOCK 65536
#define CLASSIFY_SET 4

typedef struct {
    int simd;                     /* the mask may come from compares */
    int count;                    /* marked ASCII values */
    uint8_t values[CLASSIFY_SET]; /* … and which */
    int high;                     /* every byte >= 128 is marked (else none is) */
} classify_plan;

static classify_plan plan_classify(const uint8_t *table) {
    classify_plan plan = {0, 0, {0}, table[128] != 0};
    for (int v = 128; v < 256; v++)
        if ((table[v] != 0) != plan.high) return plan;
    for (int v = 0; v < 128; v++) {
        if (table[v] == 0) continue;
        if (plan.count == CLASSIFY_SET) return plan;
        plan.values[plan.count++] = (uint8_t)v;
    }
#if defined(__SSE2__)
    plan.simd = 1;
#endif
    return plan;
}

/* bit j: table[d[j]] != 0, for 64 bytes */
static inline uint64_t marked_by_table(const uint8_t *d, const uint8_t *table) {
    uint64_t m = 0;
    for (int j = 0; j < 64; j++) m |= (uint64_t)(table[d[j]] != 0) << j;
    return m;
}

#if defined(__SSE2__)
#include <emmintrin.h>
/* the same mask from compares: a byte's top bit is set where it equals a marked value (0xFF) or,
 * when every non-ASCII byte is marked, where it is non-ASCII itself */
static inline uint64_t marked_by_compare(const uint8_t *d, const classify_plan *plan) {
    uint64_t m = 0;
    for (int q = 0; q < 4; q++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(d + 16 * q));
        __m128i hit = plan->high ? v : _mm_setzero_si128();
        for (int k = 0; k < plan->count; k++)
            hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8((char)plan->values[k])));
        m |= (uint64_t)(uint32_t)_mm_movemask_epi8(hit) << (16 * q);
    }
    return m;
}
#else
static inline uint64_t marked_by_compare(const uint8_t *d, const classify_plan *plan) {
    (void)d;
    (void)plan;
    return 0; /* never called: plan.simd is 0 without SSE2 */
}
#endif

static PyObject *classify(PyObject *self, PyObject *args) {
    Py_buffer bdata, btable;
    if (!PyArg_ParseTuple(args, "y*y*:classify", &bdata, &btable)) return NULL;
    PyObject *result = NULL, *pos_out = NULL, *cls_out = NULL;
    if (btable.len != 256) {
        PyErr_SetString(PyExc_ValueError, "classify: the table must hold 256 bytes");
        goto done;
    }
    const uint8_t *data = (const uint8_t *)bdata.buf, *table = (const uint8_t *)btable.buf;
    const classify_plan plan = plan_classify(table);
    Py_ssize_t n = bdata.len, kept = 0, cap = 0;
    if ((pos_out = new_bytearray(0)) == NULL || (cls_out = new_bytearray(0)) == NULL) goto done;
    for (Py_ssize_t from = 0; from < n; from += CLASSIFY_BLOCK) {
        Py_ssize_t to = from + CLASSIFY_BLOCK < n ? from + CLASSIFY_BLOCK : n;
        if (kept + (to - from) > cap) { /* room for every byte of the block: grow by half, at least */
            Py_ssize_t want = kept + (to - from);
            cap = want > cap + cap / 2 ? want : cap + cap / 2;
            if (PyByteArray_Resize(pos_out, cap * (Py_ssize_t)sizeof(int64_t)) < 0) goto done;
            if (PyByteArray_Resize(cls_out, cap) < 0) goto done;
        }
        int64_t *pos = (int64_t *)PyByteArray_AS_STRING(pos_out);
        uint8_t *cls = (uint8_t *)PyByteArray_AS_STRING(cls_out);
        Py_ssize_t i = from;
        for (; i + 64 <= to; i += 64) {
            uint64_t m = plan.simd ? marked_by_compare(data + i, &plan) : marked_by_table(data + i, table);
            while (m) {
                Py_ssize_t at = i + __builtin_ctzll(m);
                pos[kept] = (int64_t)at;
                cls[kept++] = table[data[at]];
                m &= m - 1;
            }
        }
        for (; i < to; i++) { /* the last < 64 bytes, branch-free */
            uint8_t c = table[data[i]];
            pos[kept] = (int64_t)i;
            cls[kept] = c;
            kept += c != 0;
        }
    }
    if (PyByteArray_Resize(pos_out, kept * (Py_ssize_t)sizeof(int64_t)) < 0) goto done;
    if (PyByteArray_Resize(cls_out, kept) < 0) goto done;
    result = Py_BuildValue("(OO)", pos_out, cls_out);
done:
    Py_XDECREF(pos_out);
    Py_XDECREF(cls_out);
    PyBuffer_Release(&bdata);
    PyBuffer_Release(&btable);
    return result;
}

/* ---- frames: the framing, CRC and header of every line in one pass ---------------------------- */

typedef struct {
    const uint8_t *d;
    Py_ssize_t len;
    const int64_t *pos; /* the special bytes (classify's output), ascending */
    const uint8_t *cls;
    Py_ssize_t npos;
    const uint16_t *crc_t; /* crc._T */
    const uint8_t *crc_a;  /* crc._A, 8 rows of 256 */
    const uint8_t *crc_init;
    int64_t max_data_len;
} frame_args;

enum { F_QN, F_ST, F_CN, F_PW, F_MN, F_FLAG, N_FIELDS };

static int hex_digit(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* whether d[from, to) is exactly `width` digits (hex digits where `hex`) */
static int all_of(const uint8_t *d, int64_t from, int64_t to, int64_t width, int hex) {
    if (to - from != width) return 0;
    for (int64_t i = from; i < to; i++)
        if (hex ? hex_digit(d[i]) < 0 : d[i] < '0' || d[i] > '9') return 0;
    return 1;
}

/* the header field a key [k, k + n) names, else -1 */
static int header_field(const uint8_t *k, Py_ssize_t n) {
    if (n == 4) return memcmp(k, "Flag", 4) == 0 ? F_FLAG : -1;
    if (n != 2) return -1;
    static const char names[5][3] = {"QN", "ST", "CN", "PW", "MN"};
    for (int f = 0; f < 5; f++)
        if (k[0] == (uint8_t)names[f][0] && k[1] == (uint8_t)names[f][1]) return f;
    return -1;
}

/* HJ 212 CRC of d[a, z) (z > a) by the lanes of crc.py: XOR of the first z-a-1 bytes per position
 * mod 8, then one table step per lane and the last byte */
static uint16_t crc_of(const frame_args *f, Py_ssize_t a, Py_ssize_t z) {
    Py_ssize_t end = z - 1, q = a;
    uint64_t lanes = 0;
    for (; q < end && (q & 7); q++) lanes ^= (uint64_t)f->d[q] << ((q & 7) * 8);
    for (; q + 8 <= end; q += 8) {
        uint64_t w;
        memcpy(&w, f->d + q, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        lanes ^= w;
    }
    for (; q < end; q++) lanes ^= (uint64_t)f->d[q] << ((q & 7) * 8);
    uint8_t h = f->crc_init[(end - a) & 7];
    for (int j = 0; j < 8; j++) {
        unsigned shift = (unsigned)(((uint64_t)end - 1 - (uint64_t)j) & 7) * 8;
        h ^= f->crc_a[256 * j + ((lanes >> shift) & 0xFF)];
    }
    return f->crc_t[h ^ f->d[end]];
}

/* Whether the line [s, e) is plainly good up to its CP: batch._fast_path's contract for a line.
 * Fills the ';' before CP=, the header values' ranges (-1 where absent), the Flag (-1: none) and
 * the QN / MN warnings (frames' outputs). *k is the first special at or after s on entry; on
 * return, past the line's specials it read. */
static int plain_frame(const frame_args *f, Py_ssize_t s, Py_ssize_t e, Py_ssize_t *k, int64_t *cp,
                       int64_t *field, int64_t *flag, uint8_t *warn) {
    const uint8_t *d = f->d;
    Py_ssize_t length = e - s;
    if (length < 13 || d[s] != '#' || d[s + 1] != '#' || d[e - 2] != '\r' || d[e - 1] != '\n') return 0;
    int64_t declared = 0;
    for (int i = 2; i < 6; i++) {
        if (d[s + i] < '0' || d[s + i] > '9') return 0;
        declared = declared * 10 + (d[s + i] - '0');
    }
    if (declared > f->max_data_len || declared != length - 12) return 0;
    int crc_sent = 0;
    for (int i = 6; i > 2; i--) {
        int x = hex_digit(d[e - i]);
        if (x < 0) return 0;
        crc_sent = crc_sent << 4 | x;
    }
    Py_ssize_t a = s + 6, z = e - 6, p = -1;
    if (d[a] == 'C' && d[a + 1] == 'P' && d[a + 2] == '=') return 0; /* cut = 0: the reference's case */
    /* the header: specials of [a, p) alternate '=' ';' … '=' (commas are part of values) */
    Py_ssize_t j = 0, key = a, eq = -1;
    int ok = 1;
    for (; *k < f->npos && f->pos[*k] < e; ++*k) {
        Py_ssize_t q = (Py_ssize_t)f->pos[*k];
        uint8_t c = f->cls[*k];
        if (c == 4) return 0; /* non-ASCII: the reference path */
        if (p >= 0 || q < a || c == 2) continue;
        if (c == 1 && q + 3 < z && d[q + 1] == 'C' && d[q + 2] == 'P' && d[q + 3] == '=') {
            p = q;
            continue;
        }
        if ((c == 3) != ((j & 1) == 0)) ok = 0;
        if (c == 3) {
            eq = q;
        } else if (ok) { /* the item [key, eq) = [eq + 1, q) ends */
            int fid = header_field(d + key, eq - key);
            if (fid < 0 || field[fid] >= 0) {
                ok = 0;
            } else {
                field[fid] = eq + 1;
                field[N_FIELDS + fid] = q;
            }
            key = q + 1;
        }
        j++;
    }
    if (p < 0 || p + 8 > z || !ok || (j > 0 && (j & 1) == 0)) return 0;
    if (j > 0) { /* the last item ends at the ';' before CP= */
        int fid = header_field(d + key, eq - key);
        if (fid < 0 || field[fid] >= 0) return 0;
        field[fid] = eq + 1;
        field[N_FIELDS + fid] = p;
    }
    if (d[p + 4] != '&' || d[p + 5] != '&' || d[z - 2] != '&' || d[z - 1] != '&') return 0;
    for (int r = F_ST; r <= F_MN; r++)
        if (field[r] < 0 || field[N_FIELDS + r] <= field[r]) return 0;
    if (field[F_FLAG] >= 0) { /* 1-3 digits, ≤ 255, version bits 0..2, not a split packet */
        Py_ssize_t n = (Py_ssize_t)(field[N_FIELDS + F_FLAG] - field[F_FLAG]);
        if (n < 1 || n > 3) return 0;
        int64_t v = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            uint8_t c = d[field[F_FLAG] + i];
            if (c < '0' || c > '9') return 0;
            v = v * 10 + (c - '0');
        }
        if (v > 255 || (v >> 2) > 2 || (v & 2) != 0) return 0;
        if ((v >> 2) >= 1 && (field[F_QN] < 0 || field[N_FIELDS + F_QN] <= field[F_QN])) return 0;
        *flag = v;
    }
    *cp = p;
    *warn = (uint8_t)((field[F_QN] >= 0 && !all_of(d, field[F_QN], field[N_FIELDS + F_QN], 17, 0)) |
                      (!all_of(d, field[F_MN], field[N_FIELDS + F_MN], 24, 1) << 1));
    return crc_of(f, a, z) == crc_sent;
}

/* frames(data, starts, ends, pos, classes, crc_t, crc_a, crc_init, max_data_len) -> (good, cp,
 * fields, flag, warn): batch._fast_path's first checks, per line [starts[i], ends[i]) of data — framing
 * (##, 4-digit length = actual ≤ max_data_len, 4 hex CRC, CRLF), ASCII (no class-4 special in
 * the line), the CRC, one ";CP=&&…&&", header keys among QN ST CN PW MN Flag each once as plain
 * key=value items, ST CN PW MN not empty, a plain Flag (and QN where Flag says 2017+). pos/classes:
 * classify's output for data. Returns good (a byte per line), the ';' before CP= (int64), the
 * header values' ranges (int64, per line 6 starts then 6 ends, -1 where absent), Flag (int64,
 * -1 without) and warnings (a byte: 1 a QN not of 17 digits, 2 an MN not of 24 hex digits); only a
 * good line's are meaningful. */
static PyObject *frames(PyObject *self, PyObject *args) {
    Py_buffer bdata, bks, bke, bpos, bcls, bt, ba, binit;
    long long max_data_len;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*y*y*y*L:frames", &bdata, &bks, &bke, &bpos, &bcls, &bt, &ba,
                          &binit, &max_data_len))
        return NULL;
    PyObject *result = NULL, *out[5] = {NULL, NULL, NULL, NULL, NULL};
    Py_ssize_t n, npos;
    if (byte_ranges("frames", &bdata, &bks, &bke, &n) || int64s(&bpos, "pos", &npos)) goto done;
    if (bcls.len != npos || bt.len != 256 * 2 || ba.len != 8 * 256 || binit.len != 8) {
        PyErr_SetString(PyExc_ValueError,
                        "frames: classes must match pos; CRC tables of 256 uint16, 8 x 256 and 8 bytes");
        goto done;
    }
    const frame_args f = {(const uint8_t *)bdata.buf, bdata.len, (const int64_t *)bpos.buf,
                          (const uint8_t *)bcls.buf, npos, (const uint16_t *)bt.buf, (const uint8_t *)ba.buf,
                          (const uint8_t *)binit.buf, (int64_t)max_data_len};
    for (Py_ssize_t i = 0; i < npos; i++)
        if (f.pos[i] < 0 || f.pos[i] >= f.len || (i > 0 && f.pos[i] <= f.pos[i - 1])) {
            PyErr_SetString(PyExc_ValueError, "frames: pos must be ascending positions inside the data");
            goto done;
        }
    if ((out[0] = new_bytearray(n)) == NULL || (out[1] = new_bytearray(n * 8)) == NULL ||
        (out[2] = new_bytearray(n * 8 * 2 * N_FIELDS)) == NULL || (out[3] = new_bytearray(n * 8)) == NULL ||
        (out[4] = new_bytearray(n)) == NULL)
        goto done;
    uint8_t *good = (uint8_t *)PyByteArray_AS_STRING(out[0]);
    int64_t *cp = (int64_t *)PyByteArray_AS_STRING(out[1]);
    int64_t *field = (int64_t *)PyByteArray_AS_STRING(out[2]);
    int64_t *flag = (int64_t *)PyByteArray_AS_STRING(out[3]);
    uint8_t *warn = (uint8_t *)PyByteArray_AS_STRING(out[4]);
    const int64_t *ks = (const int64_t *)bks.buf, *ke = (const int64_t *)bke.buf;
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (k > 0 && f.pos[k - 1] >= ks[i]) k = 0; /* lines out of order: search from 0 */
        k = lower_bound(f.pos, f.npos, ks[i], k);
        cp[i] = flag[i] = -1;
        warn[i] = 0;
        for (int r = 0; r < 2 * N_FIELDS; r++) field[2 * N_FIELDS * i + r] = -1;
        good[i] = (uint8_t)plain_frame(&f, (Py_ssize_t)ks[i], (Py_ssize_t)ke[i], &k, cp + i,
                                       field + 2 * N_FIELDS * i, flag + i, warn + i);
    }
    result = Py_BuildValue("(OOOOO)", out[0], out[1], out[2], out[3], out[4]);
done:
    for (int i = 0; i < 5; i++) Py_XDECREF(out[i]);
    PyBuffer_Release(&bdata);
    PyBuffer_Release(&bks);
    PyBuffer_Release(&bke);
    PyBuffer_Release(&bpos);
    PyBuffer_Release(&bcls);
    PyBuffer_Release(&bt);
    PyBuffer_Release(&ba);
    PyBuffer_Release(&binit);
    return result;
}

/* ---- repeats: keys a packet sends more than once --------------------------------------------- */

/* repeats(row, slot, value, code, raw, n_rows, n_slots, n_codes) -> (first, conflict): per token t
 * of a chunk's items — int64 row (non-decreasing, in [0, n_rows)); int64 slot, the key's identity
 * in [0, n_slots), -1 where not tracked; float64 value; int64 code, the 2017 code's id in
 * [0, n_codes) where the chunk writes it in more than one way, else -1; int64 raw, the code as
 * sent — whether t is the first of its (row, slot) (slot -1: always), and per row whether it repeats
 * a key with a different value (!=, so NaN differs) or writes one code in two ways.
 * batch._fast_path's contract; a table per slot and per code remembers the last row that used it,
 * so no row × key table is built. */
static PyObject *repeats(PyObject *self, PyObject *args) {
    Py_buffer brow, bslot, bval, bcode, braw;
    Py_ssize_t n_rows, n_slots, n_codes;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*nnn:repeats", &brow, &bslot, &bval, &bcode, &braw, &n_rows, &n_slots,
                          &n_codes))
        return NULL;
    PyObject *result = NULL, *first_out = NULL, *conflict_out = NULL;
    int64_t *seen = NULL;
    Py_ssize_t n, ns, nc, nr;
    if (int64s(&brow, "row", &n) || int64s(&bslot, "slot", &ns) || int64s(&bcode, "code", &nc) ||
        int64s(&braw, "raw", &nr))
        goto done;
    if (ns != n || nc != n || nr != n || bval.len != n * (Py_ssize_t)sizeof(double) || n_rows < 0 ||
        n_slots < 0 || n_codes < 0) {
        PyErr_SetString(PyExc_ValueError, "repeats: one row, slot, value, code and raw per token");
        goto done;
    }
    const int64_t *row = (const int64_t *)brow.buf, *slot = (const int64_t *)bslot.buf;
    const int64_t *code = (const int64_t *)bcode.buf, *raw = (const int64_t *)braw.buf;
    const double *value = (const double *)bval.buf;
    for (Py_ssize_t t = 0; t < n; t++)
        if (row[t] < 0 || row[t] >= n_rows || (t > 0 && row[t] < row[t - 1]) || slot[t] < -1 ||
            slot[t] >= n_slots || code[t] < -1 || code[t] >= n_codes) {
            PyErr_SetString(PyExc_ValueError, "repeats: rows must be non-decreasing in [0, n_rows), "
                                              "slots in [-1, n_slots), codes in [-1, n_codes)");
            goto done;
        }
    /* per slot: the last row that sent it and its first token there; per code: the last row and
     * the raw form it came in */
    seen = PyMem_Malloc(sizeof(int64_t) * 2 * (size_t)(n_slots + n_codes + 1));
    if (seen == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int64_t *slot_row = seen, *slot_first = seen + n_slots;
    int64_t *code_row = seen + 2 * n_slots, *code_raw = code_row + n_codes;
    for (Py_ssize_t i = 0; i < n_slots; i++) slot_row[i] = -1;
    for (Py_ssize_t i = 0; i < n_codes; i++) code_row[i] = -1;
    if ((first_out = new_bytearray(n)) == NULL || (conflict_out = new_bytearray(n_rows)) == NULL) goto done;
    uint8_t *first = (uint8_t *)PyByteArray_AS_STRING(first_out);
    uint8_t *conflict = (uint8_t *)PyByteArray_AS_STRING(conflict_out);
    memset(conflict, 0, (size_t)n_rows);
    for (Py_ssize_t t = 0; t < n; t++) {
        int64_t r = row[t], s = slot[t], c = code[t];
        first[t] = 1;
        if (s >= 0) {
            if (slot_row[s] == r) {
                first[t] = 0;
                conflict[r] |= value[t] != value[slot_first[s]];
            } else {
                slot_row[s] = r;
                slot_first[s] = t;
            }
        }
        if (c >= 0) {
            if (code_row[c] == r) {
                conflict[r] |= raw[t] != code_raw[c];
            } else {
                code_row[c] = r;
                code_raw[c] = raw[t];
            }
        }
    }
    result = Py_BuildValue("(OO)", first_out, conflict_out);
done:
    Py_XDECREF(first_out);
    Py_XDECREF(conflict_out);
    PyMem_Free(seen);
    PyBuffer_Release(&brow);
    PyBuffer_Release(&bslot);
    PyBuffer_Release(&bval);
    PyBuffer_Release(&bcode);
    PyBuffer_Release(&braw);
    return result;
}

/* ---- datatimes: DataTime values to instants -------------------------------------------------- */

/* days from 1970-01-01 to year-month-day in the proleptic Gregorian calendar (numpy's datetime64) */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int64_t m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

/* The layouts read_datatime reads; 'd' stands for a digit. A DataTime: YYYYMMDDhhmmss, or with
 * milliseconds zzz (its first 14 or all 17 places); the receiver's time stamps (segments.py: UTC,
 * microseconds): ISO_LAYOUT. */
static const char DATATIME_LAYOUT[] = "ddddddddddddddddd";
static const char ISO_LAYOUT[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";

/* A time as µs since 1970-01-01 of that civil time, if it is one (else 0): a DataTime (`iso` 0) or
 * ISO_LAYOUT (`iso` 1) — ASCII digits only, and the checks of datetime(): year ≥ 1, month 1-12, the
 * day in the month, hour < 24, minute and second < 60. The one civil-time reader of the fast path. */
static int read_datatime(const uint8_t *s, Py_ssize_t len, int iso, unsigned char *value) {
    const char *layout = iso ? ISO_LAYOUT : DATATIME_LAYOUT;
    int ok = iso ? len == (Py_ssize_t)(sizeof ISO_LAYOUT - 1) : len == 14 || len == 17;
    int64_t digit[20] = {0};
    int n = 0;
    for (Py_ssize_t k = 0; ok && k < len; k++) {
        if (layout[k] == 'd') {
            ok = s[k] >= '0' && s[k] <= '9';
            digit[n++] = s[k] - '0';
        } else {
            ok = s[k] == (uint8_t)layout[k];
        }
    }
    int64_t year = digit[0] * 1000 + digit[1] * 100 + digit[2] * 10 + digit[3];
    int64_t month = digit[4] * 10 + digit[5], day = digit[6] * 10 + digit[7];
    int64_t hour = digit[8] * 10 + digit[9], minute = digit[10] * 10 + digit[11];
    int64_t second = digit[12] * 10 + digit[13], micros = 0;
    for (int k = 14; k < 20; k++) micros = micros * 10 + (k < n ? digit[k] : 0); /* zzz: ms, ffffff: µs */
    ok = ok && year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= days_in_month(year, month) &&
         hour < 24 && minute < 60 && second < 60;
    int64_t seconds = ((days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second;
    int64_t us = ok ? seconds * 1000000 + micros : 0;
    memcpy(value, &us, 8);
    return ok;
}

/* datatimes(data, starts, ends, iso) -> (us: int64 bytes, valid: uint8 bytes) of the times
 * data[starts[i]:ends[i]] (read_datatime): batch._fast_path reads DataTime with it (iso False),
 * a segment's record heads its receive times (iso True). */
static PyObject *datatimes(PyObject *self, PyObject *args) {
    return ranges_kernel(args, "y*y*y*p:datatimes", read_datatime);
}

/* ---- records: the records of a receiver segment ----------------------------------------------- */

/* records(data, start, head_len) -> (heads, tab1, tab2, tab3, tab4, ends, stop_at, stop): the records
 * of a receiver segment (ingest/hj212/segments.py: <received_at>\t<status>\t<peer>\t<n>\t<n raw
 * bytes>\n) from byte `start` on, one int64 per record in each array: where it starts, its four tabs
 * and its closing \n. The length prefix chains the records (a raw line may hold tabs), so they are
 * walked one by one, as batch._segment_lines's reference loop walks them, until `stop`:
 * RECORDS_END — the data ends, or a torn or damaged record (fewer than four tabs, its \n missing)
 * ends the readable prefix; RECORDS_ODD_LENGTH — the length field is not 1 to 18 ASCII digits
 * (" 12", "+12", "-1", "1_2"): Python's int() decides that record at stop_at; RECORDS_NOT_PLAIN —
 * a received_at not head_len bytes long (the exact reader decides the segment). */
enum { RECORDS_END, RECORDS_ODD_LENGTH, RECORDS_NOT_PLAIN, RECORDS_COLUMNS = 6 };

static int64_t plain_length(const uint8_t *s, Py_ssize_t n) { /* -1 unless 1..18 ASCII digits */
    if (n < 1 || n > 18) return -1;
    int64_t v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* the four tabs of the record at pos, the next one searched after the last; 0 if the data has fewer */
static int record_tabs(const uint8_t *d, Py_ssize_t n, Py_ssize_t pos, int64_t *tab) {
    Py_ssize_t from = pos;
    for (int k = 0; k < 4; k++) {
        const uint8_t *t = from < n ? memchr(d + from, '\t', (size_t)(n - from)) : NULL;
        if (t == NULL) return 0;
        tab[k] = t - d;
        from = tab[k] + 1;
    }
    return 1;
}

static PyObject *records(PyObject *self, PyObject *args) {
    Py_buffer bdata;
    Py_ssize_t pos, head_len;
    if (!PyArg_ParseTuple(args, "y*nn:records", &bdata, &pos, &head_len)) return NULL;
    PyObject *result = NULL, *out[RECORDS_COLUMNS] = {NULL, NULL, NULL, NULL, NULL, NULL};
    const uint8_t *d = (const uint8_t *)bdata.buf;
    Py_ssize_t n = bdata.len, kept = 0, cap = 0;
    int stop = RECORDS_END;
    if (pos < 0 || pos > n) {
        PyErr_SetString(PyExc_ValueError, "records: start outside the data");
        goto done;
    }
    for (int c = 0; c < RECORDS_COLUMNS; c++)
        if ((out[c] = new_bytearray(0)) == NULL) goto done;
    while (pos < n) {
        int64_t tab[4];
        if (!record_tabs(d, n, pos, tab)) break;
        int64_t size = plain_length(d + tab[2] + 1, (Py_ssize_t)(tab[3] - tab[2] - 1));
        if (size < 0) {
            stop = RECORDS_ODD_LENGTH;
            break;
        }
        if (size >= n - tab[3] - 1 || d[tab[3] + 1 + size] != '\n') break; /* torn: past the end */
        if (tab[0] - pos != head_len) {
            stop = RECORDS_NOT_PLAIN;
            break;
        }
        if (kept == cap) { /* grow by half, at least 1024 records */
            cap = cap + (cap / 2 > 1024 ? cap / 2 : 1024);
            for (int c = 0; c < RECORDS_COLUMNS; c++)
                if (PyByteArray_Resize(out[c], cap * (Py_ssize_t)sizeof(int64_t)) < 0) goto done;
        }
        int64_t row[RECORDS_COLUMNS] = {pos, tab[0], tab[1], tab[2], tab[3], tab[3] + 1 + size};
        for (int c = 0; c < RECORDS_COLUMNS; c++) ((int64_t *)PyByteArray_AS_STRING(out[c]))[kept] = row[c];
        kept++;
        pos = (Py_ssize_t)row[RECORDS_COLUMNS - 1] + 1;
    }
    for (int c = 0; c < RECORDS_COLUMNS; c++)
        if (PyByteArray_Resize(out[c], kept * (Py_ssize_t)sizeof(int64_t)) < 0) goto done;
    result = Py_BuildValue("(OOOOOOni)", out[0], out[1], out[2], out[3], out[4], out[5], pos, stop);
done:
    for (int c = 0; c < RECORDS_COLUMNS; c++) Py_XDECREF(out[c]);
    PyBuffer_Release(&bdata);
    return result;
}

static PyMethodDef methods[] = {
    {"string_ids", string_ids, METH_VARARGS, "Ids of distinct byte strings, and each id's first index."},
    {"numbers", numbers, METH_VARARGS, "Decimal numbers as float() reads them, and whether each is one."},
    {"items", items, METH_VARARGS, "key=value items of regions, from the sorted special positions."},
    {"frames", frames, METH_VARARGS, "Framing, CRC and header of each line: whether plainly good, its fields."},
    {"repeats", repeats, METH_VARARGS, "Keys a packet sends more than once: first tokens, rows in conflict."},
    {"datatimes", datatimes, METH_VARARGS, "DataTime or ISO times as us since 1970, and whether each is one."},
    {"classify", classify, METH_VARARGS, "Positions and classes of the bytes a 256-byte table classes nonzero."},
    {"records", records, METH_VARARGS, "A receiver segment's records: start, tabs and end of each, and why the walk stopped."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tokens", NULL, -1, methods};

PyMODINIT_FUNC PyInit__tokens(void) {
    if (c_locale == (locale_t)0 && (c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0)) == (locale_t)0)
        return PyErr_NoMemory();
    return PyModule_Create(&module);
}
