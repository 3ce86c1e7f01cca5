/* The quality rules' word statistics in one pass over a text, and their repeated word n-grams.

   `words` and `ngrams` compute exactly what filters/quality/stats.py defines, and computes in Python
   where this module is not built: tokens split where `str.split` splits (Py_UNICODE_ISSPACE) and
   around each CJK or Thai character, letters as `str.isalpha` finds them, bare forms lower-cased as
   `str.lower` lower-cases them. tests/test_quality_scan.py compares the two paths on every code point
   and on generated and real text. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---- growable arrays ---- */

typedef struct {
    int64_t *items;
    Py_ssize_t size, capacity;
} Int64s;

static int int64s_push(Int64s *array, int64_t value) {
    if (array->size == array->capacity) {
        Py_ssize_t capacity = array->capacity ? 2 * array->capacity : 1024;
        int64_t *items = PyMem_Realloc(array->items, capacity * sizeof(int64_t));
        if (!items) {
            PyErr_NoMemory();
            return -1;
        }
        array->items = items;
        array->capacity = capacity;
    }
    array->items[array->size++] = value;
    return 0;
}

static PyObject *int64s_bytes(const Int64s *array) {
    return PyBytes_FromStringAndSize((const char *)array->items, array->size * (Py_ssize_t)sizeof(int64_t));
}

/* ---- the distinct bare forms: an open-addressing table over their characters ---- */

typedef struct {
    uint64_t hash;
    Py_ssize_t offset, length, id; /* id -1: empty */
} Slot;

typedef struct {
    Slot *slots;
    Py_ssize_t mask, used;
    Py_UCS4 *chars; /* every distinct form's characters, one after another */
    Py_ssize_t chars_used, chars_capacity;
} Forms;

static uint64_t hash_chars(const Py_UCS4 *chars, Py_ssize_t length) {
    uint64_t hash = 1469598103934665603ULL; /* FNV-1a */
    for (Py_ssize_t i = 0; i < length; i++) {
        hash = (hash ^ chars[i]) * 1099511628211ULL;
    }
    return hash ^ (hash >> 29);
}

static int forms_init(Forms *forms) {
    forms->mask = 1023;
    forms->used = 0;
    forms->slots = PyMem_Malloc((forms->mask + 1) * sizeof(Slot));
    forms->chars = NULL;
    forms->chars_used = forms->chars_capacity = 0;
    if (!forms->slots) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i <= forms->mask; i++) forms->slots[i].id = -1;
    return 0;
}

static void forms_free(Forms *forms) {
    PyMem_Free(forms->slots);
    PyMem_Free(forms->chars);
}

static int forms_grow(Forms *forms) {
    Py_ssize_t mask = 2 * (forms->mask + 1) - 1;
    Slot *slots = PyMem_Malloc((mask + 1) * sizeof(Slot));
    if (!slots) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i <= mask; i++) slots[i].id = -1;
    for (Py_ssize_t i = 0; i <= forms->mask; i++) {
        if (forms->slots[i].id < 0) continue;
        Py_ssize_t at = forms->slots[i].hash & mask;
        while (slots[at].id >= 0) at = (at + 1) & mask;
        slots[at] = forms->slots[i];
    }
    PyMem_Free(forms->slots);
    forms->slots = slots;
    forms->mask = mask;
    return 0;
}

/* The id of the form `chars` (ids in order of first occurrence); a new form is appended to the
   others, each followed by a newline. -1 on error. */
static Py_ssize_t forms_id(Forms *forms, const Py_UCS4 *chars, Py_ssize_t length) {
    uint64_t hash = hash_chars(chars, length);
    Py_ssize_t at = hash & forms->mask;
    for (; forms->slots[at].id >= 0; at = (at + 1) & forms->mask) {
        Slot *slot = &forms->slots[at];
        if (slot->hash == hash && slot->length == length &&
            memcmp(forms->chars + slot->offset, chars, length * sizeof(Py_UCS4)) == 0) {
            return slot->id;
        }
    }
    if (forms->chars_used + length + 1 > forms->chars_capacity) {
        Py_ssize_t capacity = 2 * (forms->chars_used + length + 1) + 1024;
        Py_UCS4 *grown = PyMem_Realloc(forms->chars, capacity * sizeof(Py_UCS4));
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        forms->chars = grown;
        forms->chars_capacity = capacity;
    }
    memcpy(forms->chars + forms->chars_used, chars, length * sizeof(Py_UCS4));
    forms->chars[forms->chars_used + length] = '\n';
    Slot slot = {hash, forms->chars_used, length, forms->used};
    forms->slots[at] = slot;
    forms->chars_used += length + 1;
    forms->used++;
    if (2 * forms->used > forms->mask && forms_grow(forms) < 0) return -1;
    return slot.id;
}

/* ---- words ---- */

static int is_unspaced(Py_UCS4 c) { /* stats.py's _UNSPACED: kana, CJK ideographs, Thai */
    return (c >= 0x3040 && c <= 0x30ff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x4e00 && c <= 0x9fff) ||
           (c >= 0xf900 && c <= 0xfaff) || (c >= 0x0e00 && c <= 0x0e7f);
}

typedef struct {
    unsigned char ascii[128];
    Py_UCS4 other[64];
    Py_ssize_t others;
} CharacterSet;

static int character_set_init(CharacterSet *set, PyObject *characters) {
    memset(set, 0, sizeof(*set));
    int kind = PyUnicode_KIND(characters);
    const void *data = PyUnicode_DATA(characters);
    for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(characters); i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 128) {
            set->ascii[c] = 1;
        } else if (set->others < 64) {
            set->other[set->others++] = c;
        } else {
            PyErr_SetString(PyExc_ValueError, "at most 64 non-ASCII characters in a set");
            return -1;
        }
    }
    return 0;
}

static int in_set(const CharacterSet *set, Py_UCS4 c) {
    if (c < 128) return set->ascii[c];
    for (Py_ssize_t i = 0; i < set->others; i++) {
        if (set->other[i] == c) return 1;
    }
    return 0;
}

/* Whether str.lower may map `c` to what Py_UNICODE_TOLOWER does not: to more than one character
   (U+0130 to "i\u0307", the only such unconditional mapping) or by its context (a final sigma). */
static int lowers_in_context(Py_UCS4 c) { return c == 0x130 || c == 0x3a3; }

/* The bare form of chars[start:end] (no punctuation at either end) into `*scratch`, lower-cased as
   str.lower does: character by character, or by str.lower itself for a word holding one of
   `lowers_in_context`. Its length, -1 on error. */
static Py_ssize_t bare_form(PyObject *text, const Py_UCS4 *chars, Py_ssize_t start, Py_ssize_t end,
                            Py_UCS4 **scratch, Py_ssize_t *capacity) {
    Py_ssize_t length = end - start;
    int simple = 1;
    for (Py_ssize_t i = start; i < end && simple; i++) simple = chars[i] < 128 || !lowers_in_context(chars[i]);
    PyObject *lowered = NULL;
    if (!simple) {
        PyObject *word = PyUnicode_Substring(text, start, end);
        if (!word) return -1;
        lowered = PyObject_CallMethod(word, "lower", NULL);
        Py_DECREF(word);
        if (!lowered) return -1;
        length = PyUnicode_GET_LENGTH(lowered);
    }
    if (length > *capacity) {
        Py_UCS4 *grown = PyMem_Realloc(*scratch, 2 * length * sizeof(Py_UCS4));
        if (!grown) {
            Py_XDECREF(lowered);
            PyErr_NoMemory();
            return -1;
        }
        *scratch = grown;
        *capacity = 2 * length;
    }
    if (simple) {
        for (Py_ssize_t i = 0; i < length; i++) {
            Py_UCS4 c = chars[start + i];
            (*scratch)[i] = c < 128 ? ((c >= 'A' && c <= 'Z') ? c + 32 : c) : Py_UNICODE_TOLOWER(c);
        }
    } else {
        int lowered_kind = PyUnicode_KIND(lowered);
        const void *lowered_data = PyUnicode_DATA(lowered);
        for (Py_ssize_t i = 0; i < length; i++) (*scratch)[i] = PyUnicode_READ(lowered_kind, lowered_data, i);
        Py_DECREF(lowered);
    }
    return length;
}

static int is_letter(Py_UCS4 c) {
    if (c < 128) return (c | 32) >= 'a' && (c | 32) <= 'z';
    return Py_UNICODE_ISALPHA(c);
}

PyDoc_STRVAR(words_doc,
"words(text, punctuation, ends, forms=True) -> (whitespace_tokens, ending, tokens, words, word_chars,\n"
"tokens_with_letter, forms, distinct, word_ids, chars_before, bare_chars); the first six with forms=False.\n\n"
"`whitespace_tokens`: `len(text.split())`, of which `ending` end in one of the characters `ends`. Tokens\n"
"are the word pattern's (stats.WORD): `text.split()`'s, except that each Chinese, Japanese or Thai\n"
"character is a token of its own. A word is a token with something left after `.strip(punctuation)`,\n"
"and `word_chars` the characters of the words' tokens. `forms`: the `distinct` bare forms (stripped,\n"
"then lower-cased) in order of first occurrence, joined by newlines; `word_ids`: each word's index\n"
"among them, and `chars_before`: the characters of the bare forms before each word, as native int64\n"
"bytes; `bare_chars`: those of all the words.");

typedef struct {
    const CharacterSet *punctuation;
    PyObject *text;
    int with_forms;
    const Py_UCS4 *chars;
    Py_ssize_t tokens, words, word_chars, with_letter;
    Forms forms;
    Int64s word_ids, chars_before;
    Py_UCS4 *scratch;
    Py_ssize_t scratch_capacity;
} Scan;

/* Counts the token chars[start:end] (`letter`: whether it holds a letter) and, with forms, its word. */
static int scan_token(Scan *scan, Py_ssize_t start, Py_ssize_t end, int letter) {
    const Py_UCS4 *chars = scan->chars;
    Py_ssize_t bare_start = start, bare_end = end;
    scan->tokens++;
    scan->with_letter += letter;
    while (bare_start < end && in_set(scan->punctuation, chars[bare_start])) bare_start++;
    while (bare_end > bare_start && in_set(scan->punctuation, chars[bare_end - 1])) bare_end--;
    if (bare_start == bare_end) return 0;
    scan->words++;
    scan->word_chars += end - start;
    if (!scan->with_forms) return 0;
    Py_ssize_t length = bare_form(scan->text, chars, bare_start, bare_end, &scan->scratch, &scan->scratch_capacity);
    if (length < 0) return -1;
    Py_ssize_t id = forms_id(&scan->forms, scan->scratch, length);
    if (id < 0 || int64s_push(&scan->word_ids, id) < 0) return -1;
    return int64s_push(&scan->chars_before, scan->chars_before.items[scan->chars_before.size - 1] + length);
}

static PyObject *words(PyObject *module, PyObject *args) {
    PyObject *text, *characters, *end_characters;
    int with_forms = 1;
    if (!PyArg_ParseTuple(args, "UUU|p:words", &text, &characters, &end_characters, &with_forms)) return NULL;
    CharacterSet punctuation, ends;
    if (character_set_init(&punctuation, characters) < 0 || character_set_init(&ends, end_characters) < 0) return NULL;

    Py_ssize_t n = PyUnicode_GET_LENGTH(text), whitespace_tokens = 0, ending = 0;
    Py_UCS4 *chars = PyUnicode_AsUCS4Copy(text);  /* no switch on the string's kind per character */
    if (!chars) return NULL;
    Scan scan = {&punctuation, text, with_forms, chars, 0, 0, 0, 0, {NULL, 0, 0, NULL, 0, 0}, {NULL, 0, 0},
                 {NULL, 0, 0}, NULL, 0};
    PyObject *result = NULL;
    if (with_forms && (forms_init(&scan.forms) < 0 || int64s_push(&scan.chars_before, 0) < 0)) goto done;
    Py_ssize_t i = 0;
    for (;;) {
        while (i < n && Py_UNICODE_ISSPACE(chars[i])) i++;
        if (i >= n) break;
        whitespace_tokens++;
        while (i < n && !Py_UNICODE_ISSPACE(chars[i])) {  /* one of text.split(): its tokens */
            if (chars[i] >= 0x0e00 && is_unspaced(chars[i])) {
                if (scan_token(&scan, i, i + 1, is_letter(chars[i])) < 0) goto done;
                i++;
                continue;
            }
            Py_ssize_t start = i;
            int letter = 0;
            for (; i < n; i++) {
                Py_UCS4 c = chars[i];
                if (Py_UNICODE_ISSPACE(c) || (c >= 0x0e00 && is_unspaced(c))) break;
                if (!letter) letter = is_letter(c);
            }
            if (scan_token(&scan, start, i, letter) < 0) goto done;
        }
        ending += in_set(&ends, chars[i - 1]);
    }
    if (!with_forms) {
        result = Py_BuildValue("nnnnnn", whitespace_tokens, ending, scan.tokens, scan.words, scan.word_chars,
                               scan.with_letter);
        goto done;
    }
    Py_ssize_t joined = scan.forms.chars_used ? scan.forms.chars_used - 1 : 0;  /* without the last newline */
    PyObject *forms = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, scan.forms.chars ? scan.forms.chars : chars,
                                                joined);
    PyObject *ids_bytes = int64s_bytes(&scan.word_ids), *before_bytes = int64s_bytes(&scan.chars_before);
    if (forms && ids_bytes && before_bytes) {
        result = Py_BuildValue("nnnnnnNnNNL", whitespace_tokens, ending, scan.tokens, scan.words, scan.word_chars,
                               scan.with_letter, forms, scan.forms.used, ids_bytes, before_bytes,
                               (long long)scan.chars_before.items[scan.chars_before.size - 1]);
    } else {
        Py_XDECREF(forms);
        Py_XDECREF(ids_bytes);
        Py_XDECREF(before_bytes);
    }
done:
    PyMem_Free(chars);
    forms_free(&scan.forms);
    PyMem_Free(scan.scratch);
    PyMem_Free(scan.word_ids.items);
    PyMem_Free(scan.chars_before.items);
    return result;
}

/* ---- repeated word n-grams ---- */

/* A dense rank for each distinct key among `count` keys, in order of first occurrence. */
static Py_ssize_t rank_keys(const uint64_t *keys, Py_ssize_t count, Py_ssize_t *ranks_out) {
    int bits = 4;
    while (((Py_ssize_t)1 << bits) < 2 * count) bits++;
    Py_ssize_t size = (Py_ssize_t)1 << bits, mask = size - 1, distinct = 0;
    uint64_t *table_keys = PyMem_Malloc(size * sizeof(uint64_t));
    Py_ssize_t *table_ranks = PyMem_Malloc(size * sizeof(Py_ssize_t));
    if (!table_keys || !table_ranks) {
        PyMem_Free(table_keys);
        PyMem_Free(table_ranks);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < size; i++) table_ranks[i] = -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t at = (Py_ssize_t)((keys[i] * 0x9E3779B97F4A7C15ULL) >> (64 - bits));
        while (table_ranks[at] >= 0 && table_keys[at] != keys[i]) at = (at + 1) & mask;
        if (table_ranks[at] < 0) {
            table_keys[at] = keys[i];
            table_ranks[at] = distinct++;
        }
        ranks_out[i] = table_ranks[at];
    }
    PyMem_Free(table_keys);
    PyMem_Free(table_ranks);
    return distinct;
}

PyDoc_STRVAR(ngrams_doc,
"ngrams(word_ids, chars_before, vocabulary, max_n) -> [(top_count, top_chars, covered_chars)] for n = 1..max_n\n\n"
"`word_ids` and `chars_before` as `words` returns them (every id below `vocabulary`). For each n: the\n"
"count of the most frequent word n-gram that occurs more than once (0 if none does) and the bare\n"
"characters of its first occurrence; and the bare characters of the words that such n-grams cover.");

static PyObject *ngrams(PyObject *module, PyObject *args) {
    Py_buffer ids_buffer, before_buffer;
    Py_ssize_t vocabulary, max_n;
    if (!PyArg_ParseTuple(args, "y*y*nn:ngrams", &ids_buffer, &before_buffer, &vocabulary, &max_n)) return NULL;
    const int64_t *ids = ids_buffer.buf, *before = before_buffer.buf;
    Py_ssize_t words = ids_buffer.len / (Py_ssize_t)sizeof(int64_t);
    PyObject *result = NULL;
    Py_ssize_t *starts = PyMem_Malloc((words + 1) * sizeof(Py_ssize_t));
    Py_ssize_t *ranks = PyMem_Malloc((words + 1) * sizeof(Py_ssize_t));
    Py_ssize_t *counts = PyMem_Malloc((words + 1) * sizeof(Py_ssize_t));
    uint64_t *keys = PyMem_Malloc((words + 1) * sizeof(uint64_t));
    if (before_buffer.len != (words + 1) * (Py_ssize_t)sizeof(int64_t)) {
        PyErr_SetString(PyExc_ValueError, "chars_before must hold one more value than word_ids");
        goto done;
    }
    if (!starts || !ranks || !counts || !keys) {
        PyErr_NoMemory();
        goto done;
    }
    if (!(result = PyList_New(0))) goto done;
    /* the candidates of n = 1: every word, keyed by its id */
    Py_ssize_t candidates = words;
    for (Py_ssize_t p = 0; p < words; p++) {
        starts[p] = p;
        keys[p] = (uint64_t)ids[p];
    }
    for (Py_ssize_t n = 1; n <= max_n; n++) {
        Py_ssize_t top = 0, top_start = 0, covered = 0, repeated = 0;
        Py_ssize_t distinct = candidates ? rank_keys(keys, candidates, ranks) : 0;
        if (distinct < 0) goto fail;
        memset(counts, 0, distinct * sizeof(Py_ssize_t));
        for (Py_ssize_t j = 0; j < candidates; j++) counts[ranks[j]]++;
        for (Py_ssize_t j = 0; j < candidates; j++) {
            if (counts[ranks[j]] > top) {  /* the first of the most frequent */
                top = counts[ranks[j]];
                top_start = starts[j];
            }
        }
        if (top < 2) top = 0;
        /* keep the repeated ones (ascending), each with its rank */
        for (Py_ssize_t j = 0; j < candidates; j++) {
            if (counts[ranks[j]] > 1) {
                starts[repeated] = starts[j];
                ranks[repeated++] = ranks[j];
            }
        }
        for (Py_ssize_t j = 0; j < repeated; j++) {
            Py_ssize_t end = starts[j] + n;
            if (j + 1 < repeated && starts[j + 1] < end) end = starts[j + 1];
            covered += before[end] - before[starts[j]];
        }
        PyObject *row = Py_BuildValue("(nnn)", top, top ? (Py_ssize_t)(before[top_start + n] - before[top_start]) : 0,
                                      covered);
        if (!row || PyList_Append(result, row) < 0) {
            Py_XDECREF(row);
            goto fail;
        }
        Py_DECREF(row);
        /* n + 1: an (n+1)-gram at p repeats only where the n-grams at p and at p + 1 both do */
        candidates = 0;
        for (Py_ssize_t j = 0; j + 1 < repeated; j++) {
            if (starts[j + 1] == starts[j] + 1 && starts[j] + n < words) {
                starts[candidates] = starts[j];
                keys[candidates++] = (uint64_t)ranks[j] * (uint64_t)vocabulary + (uint64_t)ids[starts[j] + n];
            }
        }
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    PyMem_Free(starts);
    PyMem_Free(ranks);
    PyMem_Free(counts);
    PyMem_Free(keys);
    PyBuffer_Release(&ids_buffer);
    PyBuffer_Release(&before_buffer);
    return result;
}

static PyMethodDef methods[] = {
    {"words", words, METH_VARARGS, words_doc},
    {"ngrams", ngrams, METH_VARARGS, ngrams_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&module); }
