/* llmkube._marked: `fastyaml.load_marked` in one C loop over libyaml's events.
 *
 * The Python loop in llmkube/fastyaml.py (`load_marked_python`) is the reference and the fallback;
 * this module does exactly what it does without a Python event object per node: the same
 * MarkedMap/MarkedList documents (`.start`, `.marks`: line << 24 | column), the same plain twins and
 * per-document clean flags, and NeedsReference in the same cases (tests/test_fastyaml_compiled.py
 * holds the two equal). Scalars call back into Python only where the reference does real work: a
 * plain scalar missing from the `_RT_SCALARS` cache goes to `_rt_plain`, a block scalar to
 * `_block_scalar`. Those objects are handed in once by `setup()`; this module imports nothing.
 *
 * The input is read the way PyYAML's CParser reads a str (yaml/_yaml.pyx, CParser.__init__,
 * PyYAML 6.0): its UTF-8 encoding (PyUnicode_AsUTF8String) through yaml_parser_set_input_string,
 * encoding detected by libyaml; scalars decoded with PyUnicode_DecodeUTF8(value, length, "strict")
 * (CParser._event_to_object). Marks are libyaml's, so columns count characters as there.
 *
 * `load_plain` does the same for `fastyaml._fast_documents` (load_plain: CRD files, profiles): plain
 * documents, or `_NeedsFullLoader` for anything unusual, which hands the text back to that Python loop.
 *
 * Iterative (an explicit stack of frames): nesting depth costs heap, never C stack.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <yaml.h>

#ifndef LLMKUBE_MARKED_SHA256
#define LLMKUBE_MARKED_SHA256 "unknown"
#endif

/* Bump with any change to setup()'s arguments or load()'s result; fastyaml checks it. */
#define MARKED_API 3

#define SHIFT 24

/* What setup() hands in (strong references, kept for the life of the process). */
static PyObject *needs_reference;   /* fastyaml.NeedsReference */
static PyObject *yaml_error;        /* yaml.YAMLError */
static PyObject *marked_map;        /* fastyaml.MarkedMap */
static PyObject *marked_list;       /* fastyaml.MarkedList */
static PyObject *scalar_cache;      /* fastyaml._RT_SCALARS (a dict) */
static PyObject *rt_plain;          /* fastyaml._rt_plain */
static PyObject *block_scalar;      /* fastyaml._block_scalar */
static Py_ssize_t max_nesting;      /* options.MAX_NESTING */
static Py_ssize_t nest_limit;       /* the nesting PyYAML's libyaml refuses (0: none); see below */
/* What setup_plain() hands in, for load_plain(). */
static PyObject *needs_full;        /* fastyaml._NeedsFullLoader: "let the Python loop read this" */
static PyObject *plain_scalar;      /* fastyaml._plain_scalar (YAML 1.1, as kubectl reads) */
static PyObject *plain_cache;       /* a dict: raw plain scalar -> what plain_scalar made of it */

static PyObject *str_start, *str_marks, *str_literal, *str_folded, *zero;

/* One container being built: the marked one, its plain twin, its marks, and a mapping's pending key. */
typedef struct {
    PyObject *top;    /* MarkedMap or MarkedList */
    PyObject *plain;  /* dict or list */
    PyObject *marks;  /* list of packed positions */
    PyObject *start;  /* packed position of the container (an int, also stored as top.start) */
    PyObject *key;    /* a mapping's pending key, NULL for none */
    int is_list;
    int level;        /* what it spends of libyaml's nesting budget: LEVEL_* */
} frame_t;

/* PyYAML's wheels bundle a libyaml newer than 0.2.5 (6.0.4's says "0.2.6") whose scanner refuses deep
 * nesting ("exceeded maximum nesting depth"): a block collection that opens an indentation level when
 * the levels would reach the limit (yaml_parser_roll_indent), a flow collection when the open
 * indentation levels plus flow levels already reach it (yaml_parser_increase_flow_level); a sequence
 * written at its mapping's own indentation and a single-pair mapping inside a flow sequence spend
 * nothing. The system libyaml this module links may not have the check, so it is done here, on the
 * limit fastyaml measures on PyYAML's (0: none). What kind a container is, is read from the
 * parser's state after its start event (parser.c, yaml_parser_parse_node and
 * yaml_parser_parse_flow_sequence_entry). */
enum { LEVEL_NONE, LEVEL_INDENT, LEVEL_FLOW };

static void
frame_clear(frame_t *f)
{
    Py_CLEAR(f->top);
    Py_CLEAR(f->plain);
    Py_CLEAR(f->marks);
    Py_CLEAR(f->start);
    Py_CLEAR(f->key);
}

static PyObject *
packed(yaml_mark_t mark)
{
    return PyLong_FromUnsignedLongLong(((unsigned long long)mark.line << SHIFT) | (unsigned long long)mark.column);
}

/* Append a packed mark to a list of marks. */
static int
append_mark(PyObject *marks, yaml_mark_t mark)
{
    PyObject *m = packed(mark);
    if (m == NULL)
        return -1;
    int rc = PyList_Append(marks, m);
    Py_DECREF(m);
    return rc;
}

/* Whether a str holds a UTF-16 surrogate code point (the reference: re `[\ud800-\udfff]`). */
static int
has_surrogate(PyObject *s)
{
    if (PyUnicode_IS_ASCII(s))
        return 0;
    int kind = PyUnicode_KIND(s);
    if (kind == PyUnicode_1BYTE_KIND)
        return 0;
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (ch >= 0xD800 && ch <= 0xDFFF)
            return 1;
    }
    return 0;
}

static PyObject *
marked_setup(PyObject *self, PyObject *args)
{
    PyObject *nr, *ye, *mm, *ml, *cache, *rp, *bs;
    Py_ssize_t depth, limit;
    if (!PyArg_ParseTuple(args, "OOOOO!OOnn:setup", &nr, &ye, &mm, &ml, &PyDict_Type, &cache, &rp, &bs, &depth, &limit))
        return NULL;
    if (!PyType_Check(mm) || !PyType_IsSubtype((PyTypeObject *)mm, &PyDict_Type)) {
        PyErr_SetString(PyExc_TypeError, "setup: marked_map must be a dict subclass");
        return NULL;
    }
    if (!PyType_Check(ml) || !PyType_IsSubtype((PyTypeObject *)ml, &PyList_Type)) {
        PyErr_SetString(PyExc_TypeError, "setup: marked_list must be a list subclass");
        return NULL;
    }
    Py_INCREF(nr); Py_XSETREF(needs_reference, nr);
    Py_INCREF(ye); Py_XSETREF(yaml_error, ye);
    Py_INCREF(mm); Py_XSETREF(marked_map, mm);
    Py_INCREF(ml); Py_XSETREF(marked_list, ml);
    Py_INCREF(cache); Py_XSETREF(scalar_cache, cache);
    Py_INCREF(rp); Py_XSETREF(rt_plain, rp);
    Py_INCREF(bs); Py_XSETREF(block_scalar, bs);
    max_nesting = depth;
    nest_limit = limit;
    Py_RETURN_NONE;
}

/* A new container (MarkedMap/MarkedList with .start and .marks set, and its plain twin) into *f. */
static int
frame_open(frame_t *f, int is_list, yaml_mark_t mark)
{
    f->is_list = is_list;
    f->key = NULL;
    f->top = PyObject_CallNoArgs(is_list ? marked_list : marked_map);
    f->plain = is_list ? PyList_New(0) : PyDict_New();
    f->marks = PyList_New(0);
    f->start = packed(mark);
    if (f->top == NULL || f->plain == NULL || f->marks == NULL || f->start == NULL)
        return -1;
    if (PyObject_SetAttr(f->top, str_start, f->start) < 0 || PyObject_SetAttr(f->top, str_marks, f->marks) < 0)
        return -1;
    return 0;
}

/* Add a finished value (and its twin) to the container in *f at `mark` (a list item), or as the
 * value of its pending key. A mapping's key is handled by the caller. */
static int
frame_add(frame_t *f, PyObject *value, PyObject *twin, PyObject *mark)
{
    if (f->is_list) {
        if (PyList_Append(f->top, value) < 0 || PyList_Append(f->plain, twin) < 0 || PyList_Append(f->marks, mark) < 0)
            return -1;
        return 0;
    }
    if (PyDict_SetItem(f->top, f->key, value) < 0 || PyDict_SetItem(f->plain, f->key, twin) < 0)
        return -1;
    Py_CLEAR(f->key);
    return 0;
}

static PyObject *
refuse(void)
{
    PyErr_SetNone(needs_reference);
    return NULL;
}

/* As CParser: a str is parsed as its UTF-8 bytes (a lone surrogate raises UnicodeEncodeError here).
 * Initialises `parser` on them and returns the bytes (owned: they must outlive the parser), or NULL
 * with an exception set and the parser not initialised. */
static PyObject *
start_parser(PyObject *text, yaml_parser_t *parser)
{
    if (!PyUnicode_CheckExact(text)) {
        PyErr_SetString(PyExc_TypeError, "a string or stream input is required");
        return NULL;
    }
    PyObject *bytes = PyUnicode_AsUTF8String(text);
    if (bytes == NULL)
        return NULL;
    if (!yaml_parser_initialize(parser)) {
        Py_DECREF(bytes);
        return PyErr_NoMemory();
    }
    yaml_parser_set_input_string(parser, (const unsigned char *)PyBytes_AS_STRING(bytes),
                                 (size_t)PyBytes_GET_SIZE(bytes));
    return bytes;
}

/* Spend libyaml's nesting budget for a container just opened (LEVEL_*, from the parser's state after
 * its start event): sets `*level` and returns 0, or returns -1 when PyYAML's libyaml would refuse it
 * (the caller raises what its loop raises). */
static int
spend_nesting(const yaml_parser_t *parser, Py_ssize_t *indents, Py_ssize_t *flows, int *level)
{
    switch (parser->state) {
    case YAML_PARSE_BLOCK_SEQUENCE_FIRST_ENTRY_STATE:
    case YAML_PARSE_BLOCK_MAPPING_FIRST_KEY_STATE:
        if (nest_limit > 0 && *indents + 1 >= nest_limit)
            return -1;
        (*indents)++;
        *level = LEVEL_INDENT;
        return 0;
    case YAML_PARSE_FLOW_SEQUENCE_FIRST_ENTRY_STATE:
    case YAML_PARSE_FLOW_MAPPING_FIRST_KEY_STATE:
        if (nest_limit > 0 && *indents + *flows >= nest_limit)
            return -1;
        (*flows)++;
        *level = LEVEL_FLOW;
        return 0;
    default:  /* an indentless sequence, a single-pair mapping in a flow sequence */
        *level = LEVEL_NONE;
        return 0;
    }
}

/* `cache[raw]`, or `fn(raw)` when the cache does not hold it (then `*computed` is 1): a new reference,
 * or NULL with an exception set. */
static PyObject *
cached_or_called(PyObject *cache, PyObject *fn, PyObject *raw, int *computed)
{
    PyObject *value = PyDict_GetItemWithError(cache, raw);
    *computed = 0;
    if (value != NULL) {
        Py_INCREF(value);
        return value;
    }
    if (PyErr_Occurred())
        return NULL;
    *computed = 1;
    return PyObject_CallOneArg(fn, raw);
}

static PyObject *
marked_load(PyObject *self, PyObject *text)
{
    if (needs_reference == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "llmkube._marked.setup() was not called");
        return NULL;
    }
    yaml_parser_t parser;
    yaml_event_t event;
    int have_event = 0;
    PyObject *bytes = start_parser(text, &parser);
    if (bytes == NULL)
        return NULL;

    PyObject *docs = PyList_New(0);
    frame_t cur = {NULL, NULL, NULL, NULL, NULL, 0, LEVEL_NONE};  /* cur.top == NULL: between documents */
    frame_t *frames = NULL;                            /* the enclosing containers */
    Py_ssize_t depth = 0, capacity = 0;
    Py_ssize_t indents = 0, flows = 0;  /* libyaml's nesting budget spent: see LEVEL_* */
    int clean = 1;
    PyObject *value = NULL, *twin = NULL, *mark = NULL;
    if (docs == NULL)
        goto fail;

    for (;;) {
        if (!yaml_parser_parse(&parser, &event)) {
            if (parser.error == YAML_MEMORY_ERROR)
                PyErr_NoMemory();
            else
                refuse();  /* a syntax error: the reference loader words it */
            goto fail;
        }
        have_event = 1;
        switch (event.type) {
        case YAML_SCALAR_EVENT: {
            if (event.data.scalar.anchor != NULL || event.data.scalar.tag != NULL) {
                refuse();
                goto fail;
            }
            PyObject *raw = PyUnicode_DecodeUTF8((const char *)event.data.scalar.value,
                                                 (Py_ssize_t)event.data.scalar.length, "strict");
            if (raw == NULL)
                goto fail;
            if (event.data.scalar.plain_implicit) {
                int computed;
                value = cached_or_called(scalar_cache, rt_plain, raw, &computed);
                if (value == NULL) {
                    Py_DECREF(raw);
                    goto fail;
                }
                if (computed) {  /* _rt_plain remembers what it may: is this one remembered? */
                    int cached = PyDict_Contains(scalar_cache, raw);
                    if (cached < 0) {
                        Py_DECREF(raw);
                        goto fail;
                    }
                    if (!cached)  /* not remembered: a value that is not clean */
                        clean = 0;
                }
                Py_DECREF(raw);
                Py_INCREF(value);
                twin = value;
            } else if (event.data.scalar.style == YAML_LITERAL_SCALAR_STYLE
                       || event.data.scalar.style == YAML_FOLDED_SCALAR_STYLE) {
                twin = raw;
                value = PyObject_CallFunctionObjArgs(
                    block_scalar, raw,
                    event.data.scalar.style == YAML_LITERAL_SCALAR_STYLE ? str_literal : str_folded, NULL);
                if (value == NULL)
                    goto fail;
            } else {
                value = raw;
                Py_INCREF(raw);
                twin = raw;
                if (event.data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE && has_surrogate(value))
                    clean = 0;
            }
            if (cur.top == NULL) {
                if (value != Py_None) {
                    refuse();  /* a scalar document: the reference loader places it */
                    goto fail;
                }
                PyObject *none_doc = PyTuple_Pack(3, Py_None, zero, Py_None);
                if (none_doc == NULL || PyList_Append(docs, none_doc) < 0) {
                    Py_XDECREF(none_doc);
                    goto fail;
                }
                Py_DECREF(none_doc);
            } else if (!cur.is_list && cur.key == NULL) {
                int dup = PyDict_Contains(cur.top, value);
                if (dup < 0)
                    goto fail;
                if (dup) {
                    refuse();  /* a duplicate key: the reference loader words it */
                    goto fail;
                }
                if (!PyUnicode_CheckExact(value))
                    clean = 0;
                if (append_mark(cur.marks, event.start_mark) < 0)
                    goto fail;
                cur.key = value;
                value = NULL;
            } else {
                if (cur.is_list) {
                    mark = packed(event.start_mark);
                    if (mark == NULL)
                        goto fail;
                }
                if (frame_add(&cur, value, twin, mark) < 0)
                    goto fail;
                Py_CLEAR(mark);
            }
            Py_CLEAR(value);
            Py_CLEAR(twin);
            break;
        }
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT: {
            int is_list = event.type == YAML_SEQUENCE_START_EVENT;
            if ((is_list ? event.data.sequence_start.anchor : event.data.mapping_start.anchor) != NULL
                || (is_list ? event.data.sequence_start.tag : event.data.mapping_start.tag) != NULL) {
                refuse();
                goto fail;
            }
            if (cur.top != NULL) {
                if (!cur.is_list && cur.key == NULL) {
                    refuse();  /* a complex key: the reference loader words it */
                    goto fail;
                }
                if (depth == capacity) {
                    Py_ssize_t grown = capacity ? capacity * 2 : 32;
                    frame_t *bigger = PyMem_Realloc(frames, (size_t)grown * sizeof(frame_t));
                    if (bigger == NULL) {
                        PyErr_NoMemory();
                        goto fail;
                    }
                    frames = bigger;
                    capacity = grown;
                }
                frames[depth++] = cur;  /* the frame's references move onto the stack */
                memset(&cur, 0, sizeof cur);
                if (depth >= max_nesting)
                    clean = 0;
            }
            if (frame_open(&cur, is_list, event.start_mark) < 0)
                goto fail;
            if (spend_nesting(&parser, &indents, &flows, &cur.level) < 0) {
                refuse();
                goto fail;
            }
            break;
        }
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT: {
            if (cur.level == LEVEL_INDENT)
                indents--;
            else if (cur.level == LEVEL_FLOW)
                flows--;
            if (depth == 0) {
                long long line = (PyLong_AsLongLong(cur.start) >> SHIFT) + 1;
                PyObject *num = PyLong_FromLongLong(line);
                PyObject *doc = num ? PyTuple_Pack(3, cur.top, num, clean ? cur.plain : Py_None) : NULL;
                Py_XDECREF(num);
                if (doc == NULL || PyList_Append(docs, doc) < 0) {
                    Py_XDECREF(doc);
                    goto fail;
                }
                Py_DECREF(doc);
                frame_clear(&cur);
                clean = 1;
                break;
            }
            frame_t done = cur;
            cur = frames[--depth];
            int rc = frame_add(&cur, done.top, done.plain, done.start);
            frame_clear(&done);
            if (rc < 0)
                goto fail;
            break;
        }
        case YAML_DOCUMENT_START_EVENT:
            if (event.data.document_start.version_directive != NULL
                || (event.data.document_start.tag_directives.start != NULL
                    && event.data.document_start.tag_directives.start != event.data.document_start.tag_directives.end)) {
                refuse();
                goto fail;
            }
            break;
        case YAML_ALIAS_EVENT:
            refuse();
            goto fail;
        default:  /* stream start and end, document end: nothing to do */
            break;
        }
        int end = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
        have_event = 0;
        if (end)
            break;
    }
    yaml_parser_delete(&parser);
    Py_DECREF(bytes);
    PyMem_Free(frames);
    return docs;

fail:
    /* As the reference: an error its loop catches (ValueError, TypeError, RecursionError, a YAMLError)
     * becomes NeedsReference; anything else (MemoryError, ...) passes through. */
    if (PyErr_ExceptionMatches(PyExc_ValueError) || PyErr_ExceptionMatches(PyExc_TypeError)
        || PyErr_ExceptionMatches(PyExc_RecursionError) || PyErr_ExceptionMatches(yaml_error)) {
        PyErr_Clear();
        refuse();
    }
    if (have_event)
        yaml_event_delete(&event);
    yaml_parser_delete(&parser);
    Py_DECREF(bytes);
    Py_XDECREF(value);
    Py_XDECREF(twin);
    Py_XDECREF(mark);
    frame_clear(&cur);
    while (depth > 0)
        frame_clear(&frames[--depth]);
    PyMem_Free(frames);
    Py_XDECREF(docs);
    return NULL;
}

static PyObject *
marked_setup_plain(PyObject *self, PyObject *args)
{
    PyObject *nf, *ps, *cache;
    if (!PyArg_ParseTuple(args, "OOO!:setup_plain", &nf, &ps, &PyDict_Type, &cache))
        return NULL;
    Py_INCREF(nf); Py_XSETREF(needs_full, nf);
    Py_INCREF(ps); Py_XSETREF(plain_scalar, ps);
    Py_INCREF(cache); Py_XSETREF(plain_cache, cache);
    Py_RETURN_NONE;
}

/* One container of load_plain: a dict or list, and a mapping's pending key. */
typedef struct {
    PyObject *top;
    PyObject *key;
    int level;
} plain_frame_t;

/* `fastyaml._fast_documents` in C: the documents of `text` as plain data (YAML 1.1 scalars through
 * `_plain_scalar`, remembered in the cache it was handed), or `_NeedsFullLoader` for anything that
 * loop would not return as plain documents: anchors, aliases, tags other than "!", complex keys, a
 * syntax error, PyYAML's nesting limit, or any exception of `_plain_scalar` (a merge key, a number
 * too long). The caller then runs that Python loop, which reads or refuses it and words the error. */
static PyObject *
marked_load_plain(PyObject *self, PyObject *text)
{
    if (needs_full == NULL || needs_reference == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "llmkube._marked.setup()/setup_plain() were not called");
        return NULL;
    }
    yaml_parser_t parser;
    yaml_event_t event;
    int have_event = 0;
    PyObject *bytes = start_parser(text, &parser);
    if (bytes == NULL)
        return NULL;
    PyObject *docs = PyList_New(0);
    plain_frame_t cur = {NULL, NULL, LEVEL_NONE};
    plain_frame_t *frames = NULL;
    Py_ssize_t depth = 0, capacity = 0, indents = 0, flows = 0;
    PyObject *value = NULL;
    if (docs == NULL)
        goto fail;
    for (;;) {
        if (!yaml_parser_parse(&parser, &event)) {
            if (parser.error == YAML_MEMORY_ERROR)
                PyErr_NoMemory();
            else
                PyErr_SetNone(needs_full);
            goto fail;
        }
        have_event = 1;
        int done = 0;
        switch (event.type) {
        case YAML_SCALAR_EVENT: {
            if (event.data.scalar.anchor != NULL
                || (event.data.scalar.tag != NULL && strcmp((const char *)event.data.scalar.tag, "!") != 0)) {
                PyErr_SetNone(needs_full);
                goto fail;
            }
            PyObject *raw = PyUnicode_DecodeUTF8((const char *)event.data.scalar.value,
                                                 (Py_ssize_t)event.data.scalar.length, "strict");
            if (raw == NULL)
                goto fail;
            if (event.data.scalar.plain_implicit) {
                int computed;
                value = cached_or_called(plain_cache, plain_scalar, raw, &computed);
                if (value == NULL) {
                    Py_DECREF(raw);
                    goto fail;
                }
                if (computed) {
                    if (PyDict_GET_SIZE(plain_cache) > 200000)
                        PyDict_Clear(plain_cache);
                    if (PyDict_SetItem(plain_cache, raw, value) < 0) {
                        Py_DECREF(raw);
                        goto fail;
                    }
                }
                Py_DECREF(raw);
            } else {
                value = raw;
            }
            done = 1;
            break;
        }
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT: {
            int is_list = event.type == YAML_SEQUENCE_START_EVENT;
            yaml_char_t *anchor = is_list ? event.data.sequence_start.anchor : event.data.mapping_start.anchor;
            yaml_char_t *tag = is_list ? event.data.sequence_start.tag : event.data.mapping_start.tag;
            if (anchor != NULL || (tag != NULL && strcmp((const char *)tag, "!") != 0)) {
                PyErr_SetNone(needs_full);
                goto fail;
            }
            int level;
            if (spend_nesting(&parser, &indents, &flows, &level) < 0) {
                PyErr_SetNone(needs_full);
                goto fail;
            }
            if (cur.top != NULL) {
                if (depth == capacity) {
                    Py_ssize_t grown = capacity ? capacity * 2 : 32;
                    plain_frame_t *bigger = PyMem_Realloc(frames, (size_t)grown * sizeof(plain_frame_t));
                    if (bigger == NULL) {
                        PyErr_NoMemory();
                        goto fail;
                    }
                    frames = bigger;
                    capacity = grown;
                }
                frames[depth++] = cur;
                cur.top = NULL;
                cur.key = NULL;
            }
            cur.top = is_list ? PyList_New(0) : PyDict_New();
            cur.key = NULL;
            cur.level = level;
            if (cur.top == NULL)
                goto fail;
            break;
        }
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (cur.level == LEVEL_INDENT)
                indents--;
            else if (cur.level == LEVEL_FLOW)
                flows--;
            value = cur.top;
            Py_CLEAR(cur.key);
            cur.top = NULL;
            if (depth > 0)
                cur = frames[--depth];
            done = 1;
            break;
        case YAML_ALIAS_EVENT:
            PyErr_SetNone(needs_full);
            goto fail;
        default:  /* stream and document start and end: nothing to do (directives are allowed) */
            break;
        }
        if (done) {
            /* `value` (owned) goes where the Python loop puts it. */
            if (cur.top == NULL) {
                if (PyList_Append(docs, value) < 0)
                    goto fail;
            } else if (PyList_CheckExact(cur.top)) {
                if (PyList_Append(cur.top, value) < 0)
                    goto fail;
            } else if (cur.key == NULL) {
                if (PyDict_CheckExact(value) || PyList_CheckExact(value)) {
                    PyErr_SetNone(needs_full);  /* a complex key */
                    goto fail;
                }
                cur.key = value;
                value = NULL;
            } else {
                if (PyDict_SetItem(cur.top, cur.key, value) < 0)
                    goto fail;
                Py_CLEAR(cur.key);
            }
            Py_CLEAR(value);
        }
        int end = event.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&event);
        have_event = 0;
        if (end)
            break;
    }
    yaml_parser_delete(&parser);
    Py_DECREF(bytes);
    PyMem_Free(frames);
    return docs;

fail:
    /* Whatever went wrong, the Python loop reads the text again and meets it itself (or words it). */
    if (!PyErr_ExceptionMatches(PyExc_MemoryError) && !PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
        PyErr_Clear();
        PyErr_SetNone(needs_full);
    }
    if (have_event)
        yaml_event_delete(&event);
    yaml_parser_delete(&parser);
    Py_DECREF(bytes);
    Py_XDECREF(value);
    Py_XDECREF(cur.top);
    Py_XDECREF(cur.key);
    while (depth > 0) {
        depth--;
        Py_XDECREF(frames[depth].top);
        Py_XDECREF(frames[depth].key);
    }
    PyMem_Free(frames);
    Py_XDECREF(docs);
    return NULL;
}

static PyMethodDef marked_methods[] = {
    {"setup", marked_setup, METH_VARARGS,
     "setup(needs_reference, yaml_error, marked_map, marked_list, cache, rt_plain, block_scalar, max_nesting,\n"
     "      nest_limit)\n"
     "Hand in the classes, cache and callbacks `load` uses (fastyaml does, once, at import)."},
    {"setup_plain", marked_setup_plain, METH_VARARGS,
     "setup_plain(needs_full, plain_scalar, cache)\nHand in what `load_plain` uses (fastyaml does, on first use)."},
    {"load_plain", marked_load_plain, METH_O,
     "load_plain(text) -> list of plain documents, as fastyaml._fast_documents, or raises its _NeedsFullLoader."},
    {"load", marked_load, METH_O,
     "load(text) -> list of (document, start line, plain twin or None), as fastyaml.load_marked_python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef marked_module = {
    PyModuleDef_HEAD_INIT, "llmkube._marked",
    "fastyaml.load_marked in C over libyaml (the Python loop is the reference).", -1, marked_methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__marked(void)
{
    str_start = PyUnicode_InternFromString("start");
    str_marks = PyUnicode_InternFromString("marks");
    str_literal = PyUnicode_InternFromString("|");
    str_folded = PyUnicode_InternFromString(">");
    zero = PyLong_FromLong(0);
    if (!str_start || !str_marks || !str_literal || !str_folded || !zero)
        return NULL;
    PyObject *m = PyModule_Create(&marked_module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddStringConstant(m, "SOURCE_SHA256", LLMKUBE_MARKED_SHA256) < 0
        || PyModule_AddStringConstant(m, "LIBYAML_VERSION", yaml_get_version_string()) < 0
        || PyModule_AddIntConstant(m, "API", MARKED_API) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
