/* lib/keyfile.c — reading and writing secret key files.
 *
 * Layer: lib/, the bottom. The only disk access in lib/. A key file is one
 * line, "hallmark-key-v1 <64 hex digits>\n" (docs/encoding.md). Writing never
 * overwrites (O_EXCL) and creates the file 0600; reading refuses a file that
 * group or others can access, and anything but the exact format. Never logs
 * or leaves secret bytes behind: every buffer that held them is wiped. */
#include "hm.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYFILE_MAGIC "hallmark-key-v1 "
#define KEYFILE_MAGIC_LEN (sizeof KEYFILE_MAGIC - 1)
#define KEYFILE_LEN (KEYFILE_MAGIC_LEN + 2 * HM_SECKEY_LEN + 1)

static hm_err write_all(int fd, const char *data, size_t data_len) {
    size_t done = 0;
    while (done < data_len) {
        ssize_t n = write(fd, data + done, data_len - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return HM_ERR_IO;
        }
        done += (size_t)n;
    }
    return HM_OK;
}

hm_err hm_keyfile_write(const char *path, const hm_keypair *kp) {
    if (path == NULL || kp == NULL) {
        return HM_ERR_ARG;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno == EEXIST ? HM_ERR_EXISTS : HM_ERR_IO;
    }
    char line[KEYFILE_LEN + 1];
    uint8_t seckey[HM_SECKEY_LEN];
    hm_keypair_seckey(kp, seckey);
    memcpy(line, KEYFILE_MAGIC, KEYFILE_MAGIC_LEN);
    hm_hex_encode(seckey, sizeof seckey, line + KEYFILE_MAGIC_LEN);
    line[KEYFILE_LEN - 1] = '\n';
    line[KEYFILE_LEN] = '\0';
    OPENSSL_cleanse(seckey, sizeof seckey);

    hm_err err = write_all(fd, line, KEYFILE_LEN);
    OPENSSL_cleanse(line, sizeof line);
    /* The key must be on disk before anyone is told it exists. */
    if (err == HM_OK && fsync(fd) != 0) {
        err = HM_ERR_IO;
    }
    if (close(fd) != 0 && err == HM_OK) {
        err = HM_ERR_IO;
    }
    if (err != HM_OK) {
        /* Leave no half-written key behind to be mistaken for a real one. */
        (void)unlink(path);
    }
    return err;
}

hm_err hm_keyfile_read(const char *path, hm_keypair *kp) {
    if (path == NULL || kp == NULL) {
        return HM_ERR_ARG;
    }
    /* O_NONBLOCK: a FIFO at the key's path would otherwise block the open
     * until some writer came; it has no effect on the regular file we want,
     * and anything else is refused below. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        return errno == ENOENT ? HM_ERR_NOT_FOUND : HM_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return HM_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return HM_ERR_KEY_FORMAT;
    }
    /* Checked on the open descriptor, not the path, so the file cannot be
     * swapped between the check and the read. */
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        close(fd);
        return HM_ERR_KEY_PERMS;
    }
    /* One byte more than a valid file, to notice trailing content. */
    char buf[KEYFILE_LEN + 1];
    size_t got = 0;
    hm_err err = HM_OK;
    while (got < sizeof buf) {
        ssize_t n = read(fd, buf + got, sizeof buf - got);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            err = HM_ERR_IO;
            break;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (err == HM_OK && (got != KEYFILE_LEN || memcmp(buf, KEYFILE_MAGIC, KEYFILE_MAGIC_LEN) != 0 ||
                         buf[KEYFILE_LEN - 1] != '\n')) {
        err = HM_ERR_KEY_FORMAT;
    }
    uint8_t seckey[HM_SECKEY_LEN];
    if (err == HM_OK) {
        char hex[2 * HM_SECKEY_LEN + 1];
        memcpy(hex, buf + KEYFILE_MAGIC_LEN, 2 * HM_SECKEY_LEN);
        hex[2 * HM_SECKEY_LEN] = '\0';
        if (hm_hex_decode(hex, seckey, sizeof seckey) != HM_OK) {
            err = HM_ERR_KEY_FORMAT;
        }
        OPENSSL_cleanse(hex, sizeof hex);
    }
    if (err == HM_OK) {
        err = hm_keypair_from_seckey(kp, seckey);
    }
    OPENSSL_cleanse(seckey, sizeof seckey);
    OPENSSL_cleanse(buf, sizeof buf);
    return err;
}
