/* cli/cmd_qr.c — `hallmark qr`: QR labels that encode an item's GS1 Digital
 * Link URI, as SVG or PNG, one label or a printable sheet of many.
 *
 * Layer: cli/ (top). libqrencode makes the module matrix; the SVG is written
 * here by hand and the PNG too (stored, uncompressed deflate blocks with
 * CRC-32 and Adler-32: no image or compression library is needed for a
 * black-and-white picture of a few kilobytes). The URI comes from
 * contracts/ct_gs1.h, which validates the GTIN and serial. Never contacts a
 * node; writes only the file named by --out. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "cli.h"
#include "ct_gs1.h"

#define QR_QUIET_MODULES 4 /* the quiet zone ISO/IEC 18004 asks for */
#define QR_SCALE_MAX 64    /* pixels per module in a PNG */
#define QR_SHEET_LABELS_MAX 1000
#define QR_SHEET_COLUMNS 5

static const cli_opt qr_opts[] = {
    {"gtin", "GTIN", "GTIN-8, -12, -13 or -14 (padded to 14 digits in the URI)"},
    {"serial", "SERIAL", "the item's serial (AI 21): 1-20 characters"},
    {"base-url", "URL", "URI stem, e.g. https://brand.example (default https://id.gs1.org)"},
    {"out", "FILE", "output file: .svg or .png (a sheet is always SVG)"},
    {"scale", "N", "PNG pixels per module (default 8)"},
    {"sheet", NULL, "print a sheet of labels for --from/--to or --serials"},
    {"from", "N", "sheet: first serial number of a range"},
    {"to", "N", "sheet: last serial number of a range (inclusive)"},
    {"serial-prefix", "TEXT", "sheet: text before each number of a range"},
    {"serials", "FILE", "sheet: a file of serials, one per line"},
    {NULL, NULL, NULL},
};

static const cli_spec qr_spec = {
    .usage = "hallmark qr --gtin G --serial S [--base-url U] --out FILE.svg|.png\n"
             "       hallmark qr --sheet --gtin G (--from N --to M [--serial-prefix P] | "
             "--serials FILE) [--base-url U] --out FILE.svg",
    .description =
        "Writes a QR code of the item's GS1 Digital Link URI (BASE/01/{gtin14}/21/{serial}),\n"
        "which a phone opens on the resolver's consumer page. Error correction level M,\n"
        "with a 4-module quiet zone. A sheet lays out up to 1000 labels, 5 per row, each\n"
        "with its serial printed under it.",
    .opts = qr_opts,
    .positional_min = 0,
    .positional_max = 0,
};

/* ------------------------------------------------------------------- SVG */

/* Appends one QR symbol as an SVG <path> at (x, y) with module size 1. */
static void svg_symbol(FILE *f, const QRcode *qr, int x, int y) {
    fprintf(f, "<path fill=\"#000\" d=\"");
    for (int r = 0; r < qr->width; r++) {
        for (int c = 0; c < qr->width; c++) {
            if (qr->data[r * qr->width + c] & 1) {
                fprintf(f, "M%d %dh1v1h-1z", x + c, y + r);
            }
        }
    }
    fprintf(f, "\"/>\n");
}

static void xml_escape(FILE *f, const char *text) {
    for (const char *p = text; *p != '\0'; p++) {
        switch (*p) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*p, f);
        }
    }
}

static int write_svg(const char *path, const QRcode *qr, const char *uri) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        cli_error("%s: %s", path, strerror(errno));
        return CLI_EXIT_IO;
    }
    int size = qr->width + 2 * QR_QUIET_MODULES;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
            "height=\"%d\" shape-rendering=\"crispEdges\" role=\"img\">\n<title>",
            size, size, size * 8, size * 8);
    xml_escape(f, uri);
    fprintf(f, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", size, size);
    svg_symbol(f, qr, QR_QUIET_MODULES, QR_QUIET_MODULES);
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        cli_error("%s: %s", path, strerror(errno));
        return CLI_EXIT_IO;
    }
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------- PNG */

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
        }
        crc_table[n] = c;
    }
}

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t len) {
    for (size_t i = 0; i < len; i++) {
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    }
    return crc;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* One PNG chunk: length, type, data, CRC-32 over type and data. */
static bool png_chunk(FILE *f, const char type[4], const uint8_t *data, size_t len) {
    uint8_t head[8];
    put_be32(head, (uint32_t)len);
    memcpy(head + 4, type, 4);
    uint32_t crc = crc_update(0xffffffffu, (const uint8_t *)type, 4);
    crc = crc_update(crc, data, len) ^ 0xffffffffu;
    uint8_t tail[4];
    put_be32(tail, crc);
    return fwrite(head, 1, 8, f) == 8 && (len == 0 || fwrite(data, 1, len, f) == len) &&
           fwrite(tail, 1, 4, f) == 4;
}

static int write_png(const char *path, const QRcode *qr, int scale) {
    crc_init();
    uint32_t side = (uint32_t)(qr->width + 2 * QR_QUIET_MODULES) * (uint32_t)scale;
    size_t row_len = side + 1; /* filter byte + 8-bit grey pixels */
    size_t raw_len = row_len * side;
    uint8_t *raw = malloc(raw_len);
    size_t blocks = raw_len / 65535 + 1;
    size_t z_len = 2 + raw_len + 5 * blocks + 4;
    uint8_t *z = malloc(z_len);
    if (raw == NULL || z == NULL) {
        free(raw);
        free(z);
        cli_error("out of memory");
        return CLI_EXIT_IO;
    }
    for (uint32_t y = 0; y < side; y++) {
        uint8_t *row = raw + y * row_len;
        row[0] = 0; /* filter: none */
        int my = (int)(y / (uint32_t)scale) - QR_QUIET_MODULES;
        for (uint32_t x = 0; x < side; x++) {
            int mx = (int)(x / (uint32_t)scale) - QR_QUIET_MODULES;
            bool dark = my >= 0 && mx >= 0 && my < qr->width && mx < qr->width &&
                        (qr->data[my * qr->width + mx] & 1);
            row[1 + x] = dark ? 0x00 : 0xff;
        }
    }
    /* zlib stream: header (deflate, 32K window, no dictionary, check bits),
     * stored blocks of at most 65535 bytes, Adler-32 of the raw data. */
    size_t o = 0;
    z[o++] = 0x78;
    z[o++] = 0x01;
    uint32_t a = 1, b = 0;
    for (size_t pos = 0; pos < raw_len || pos == 0;) {
        size_t n = raw_len - pos < 65535 ? raw_len - pos : 65535;
        bool final = pos + n == raw_len;
        z[o++] = final ? 1 : 0;
        z[o++] = (uint8_t)(n & 0xff);
        z[o++] = (uint8_t)(n >> 8);
        z[o++] = (uint8_t)(~n & 0xff);
        z[o++] = (uint8_t)((~n >> 8) & 0xff);
        memcpy(z + o, raw + pos, n);
        for (size_t i = 0; i < n; i++) {
            a = (a + raw[pos + i]) % 65521u;
            b = (b + a) % 65521u;
        }
        o += n;
        pos += n;
        if (final) {
            break;
        }
    }
    put_be32(z + o, (b << 16) | a);
    o += 4;
    uint8_t ihdr[13];
    put_be32(ihdr, side);
    put_be32(ihdr + 4, side);
    ihdr[8] = 8;  /* bit depth */
    ihdr[9] = 0;  /* greyscale */
    ihdr[10] = 0; /* deflate */
    ihdr[11] = 0; /* adaptive filtering */
    ihdr[12] = 0; /* no interlace */
    FILE *f = fopen(path, "wb");
    int rc = CLI_EXIT_OK;
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (f == NULL || fwrite(signature, 1, 8, f) != 8 || !png_chunk(f, "IHDR", ihdr, 13) ||
        !png_chunk(f, "IDAT", z, o) || !png_chunk(f, "IEND", NULL, 0)) {
        cli_error("%s: %s", path, strerror(errno));
        rc = CLI_EXIT_IO;
    }
    if (f != NULL && fclose(f) != 0 && rc == CLI_EXIT_OK) {
        cli_error("%s: %s", path, strerror(errno));
        rc = CLI_EXIT_IO;
    }
    free(raw);
    free(z);
    return rc;
}

/* ----------------------------------------------------------------- sheet */

typedef struct {
    char serial[CT_GS1_SERIAL_MAX + 1];
} sheet_label;

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int load_serials(const cli_args *a, sheet_label **out, size_t *count) {
    const char *file = cli_arg(a, "serials");
    const char *from_text = cli_arg(a, "from");
    const char *to_text = cli_arg(a, "to");
    const char *prefix = cli_arg(a, "serial-prefix");
    if (prefix == NULL) {
        prefix = "";
    }
    *out = calloc(QR_SHEET_LABELS_MAX, sizeof **out);
    if (*out == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_IO;
    }
    *count = 0;
    if (file != NULL) {
        uint8_t *text = NULL;
        size_t len = 0;
        if (cli_read_file(file, 1024 * 1024, &text, &len) != HM_OK) {
            return CLI_EXIT_IO;
        }
        char *save = NULL;
        for (char *line = strtok_r((char *)text, "\r\n", &save); line != NULL;
             line = strtok_r(NULL, "\r\n", &save)) {
            if (*count == QR_SHEET_LABELS_MAX) {
                free(text);
                return cli_usage_error(&qr_spec, "%s: more than %d serials", file,
                                       QR_SHEET_LABELS_MAX);
            }
            const char *why = NULL;
            if (ct_gs1_serial_check(line, &why) != HM_OK) {
                cli_error("%s: serial '%s': %s", file, line, why);
                free(text);
                return CLI_EXIT_USAGE;
            }
            snprintf((*out)[*count].serial, sizeof(*out)[0].serial, "%s", line);
            (*count)++;
        }
        free(text);
    } else {
        uint64_t from, to;
        if (from_text == NULL || to_text == NULL || !cli_parse_u64(from_text, UINT64_MAX, &from) ||
            !cli_parse_u64(to_text, UINT64_MAX, &to) || to < from) {
            return cli_usage_error(&qr_spec, "a sheet needs --serials FILE or --from N --to M");
        }
        if (to - from >= QR_SHEET_LABELS_MAX) {
            return cli_usage_error(&qr_spec, "at most %d labels per sheet", QR_SHEET_LABELS_MAX);
        }
        for (uint64_t n = from; n <= to; n++) {
            char serial[64];
            snprintf(serial, sizeof serial, "%s%llu", prefix, (unsigned long long)n);
            const char *why = NULL;
            if (ct_gs1_serial_check(serial, &why) != HM_OK) {
                return cli_usage_error(&qr_spec, "serial '%s': %s", serial, why);
            }
            /* ct_gs1_serial_check bounded it to CT_GS1_SERIAL_MAX. */
            memcpy((*out)[*count].serial, serial, strlen(serial) + 1);
            (*count)++;
        }
    }
    if (*count == 0) {
        return cli_usage_error(&qr_spec, "no serials for the sheet");
    }
    return CLI_EXIT_OK;
}

static int write_sheet(const cli_args *a, const char *base, const char *gtin, const char *path) {
    sheet_label *labels = NULL;
    size_t count = 0;
    int rc = load_serials(a, &labels, &count);
    if (rc != CLI_EXIT_OK) {
        free(labels);
        return rc;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        cli_error("%s: %s", path, strerror(errno));
        free(labels);
        return CLI_EXIT_IO;
    }
    /* Each cell: the symbol (up to version 6 here: 41 modules + quiet zone)
     * and a caption; cells are fixed size so the grid lines up for cutting. */
    const int cell = 60, caption = 8;
    size_t rows = (count + QR_SHEET_COLUMNS - 1) / QR_SHEET_COLUMNS;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %zu\" "
            "shape-rendering=\"crispEdges\">\n<rect width=\"100%%\" height=\"100%%\" "
            "fill=\"#fff\"/>\n",
            cell * QR_SHEET_COLUMNS, rows * (size_t)(cell + caption));
    for (size_t i = 0; i < count && rc == CLI_EXIT_OK; i++) {
        char uri[CT_GS1_DL_URI_MAX];
        const char *why = NULL;
        if (ct_gs1_dl_item_uri(base, gtin, labels[i].serial, uri, sizeof uri, &why) != HM_OK) {
            cli_error("serial '%s': %s", labels[i].serial, why);
            rc = CLI_EXIT_USAGE;
            break;
        }
        QRcode *qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
        if (qr == NULL) {
            cli_error("cannot encode %s as a QR code", uri);
            rc = CLI_EXIT_USAGE;
            break;
        }
        int x = (int)(i % QR_SHEET_COLUMNS) * cell;
        int y = (int)(i / QR_SHEET_COLUMNS) * (cell + caption);
        int offset = (cell - qr->width) / 2;
        fprintf(f, "<g><title>");
        xml_escape(f, uri);
        fprintf(f, "</title>\n");
        svg_symbol(f, qr, x + offset, y + offset);
        fprintf(f,
                "<text x=\"%d\" y=\"%d\" font-family=\"monospace\" font-size=\"4\" "
                "text-anchor=\"middle\">",
                x + cell / 2, y + cell + caption / 2);
        xml_escape(f, labels[i].serial);
        fprintf(f, "</text></g>\n");
        QRcode_free(qr);
    }
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0 && rc == CLI_EXIT_OK) {
        cli_error("%s: %s", path, strerror(errno));
        rc = CLI_EXIT_IO;
    }
    if (rc == CLI_EXIT_OK) {
        printf("%s: %zu labels\n", path, count);
    }
    free(labels);
    return rc;
}

int cli_cmd_qr(int argc, char **argv) {
    cli_args a;
    int rc;
    if (!cli_parse(&qr_spec, argc, argv, &a, &rc)) {
        return rc;
    }
    const char *gtin = cli_arg(&a, "gtin");
    const char *serial = cli_arg(&a, "serial");
    const char *out = cli_arg(&a, "out");
    const char *base = cli_arg(&a, "base-url");
    if (gtin == NULL || out == NULL) {
        return cli_usage_error(&qr_spec, "--gtin and --out are required");
    }
    char gtin14[CT_GTIN_LEN + 1];
    const char *why = NULL;
    if (ct_gtin_normalize(gtin, gtin14, &why) != HM_OK) {
        return cli_usage_error(&qr_spec, "--gtin %s: %s", gtin, why);
    }
    if (base != NULL && strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
        return cli_usage_error(&qr_spec, "--base-url must start with http:// or https://");
    }
    if (cli_flag(&a, "sheet")) {
        if (!ends_with(out, ".svg")) {
            return cli_usage_error(&qr_spec, "a sheet is written as SVG: --out FILE.svg");
        }
        return write_sheet(&a, base, gtin14, out);
    }
    if (serial == NULL) {
        return cli_usage_error(&qr_spec, "--serial is required (or --sheet)");
    }
    uint64_t scale = 8;
    const char *scale_text = cli_arg(&a, "scale");
    if (scale_text != NULL && (!cli_parse_u64(scale_text, QR_SCALE_MAX, &scale) || scale == 0)) {
        return cli_usage_error(&qr_spec, "--scale must be 1 to %d", QR_SCALE_MAX);
    }
    char uri[CT_GS1_DL_URI_MAX];
    if (ct_gs1_dl_item_uri(base, gtin14, serial, uri, sizeof uri, &why) != HM_OK) {
        return cli_usage_error(&qr_spec, "%s", why);
    }
    QRcode *qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (qr == NULL) {
        cli_error("cannot encode %s as a QR code", uri);
        return CLI_EXIT_USAGE;
    }
    if (ends_with(out, ".svg")) {
        rc = write_svg(out, qr, uri);
    } else if (ends_with(out, ".png")) {
        rc = write_png(out, qr, (int)scale);
    } else {
        rc = cli_usage_error(&qr_spec, "--out must end in .svg or .png");
    }
    if (rc == CLI_EXIT_OK) {
        printf("%s\n", uri);
    }
    QRcode_free(qr);
    return rc;
}
