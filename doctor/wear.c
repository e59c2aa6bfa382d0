/*
 * wear.c — what the device holding the ledger is asked to write, for the
 * doctor's storage-wear clause (doctor.h, ldg_doctor_wear_measure) and the
 * samples it rests on (ldg_doctor_wear_sample).
 *
 * The figure is the kernel's count of sectors written to the block device
 * that holds the ledger's directory (field 7 of /sys/dev/block/M:m/stat, x
 * 512), since boot, by every writer of that device: what wears the flash is
 * every write, and the kernel does not say which process a device write
 * came from. A figure over the last hour and day needs two readings an hour
 * and a day apart, so `ledger metrics` (run by each scrape of `ledger serve
 * --metrics`, or by a timer for node_exporter) keeps samples in
 * DIR/storage-wear.tsv, one every LDG_DOCTOR_WEAR_EVERY_S at most, for
 * LDG_DOCTOR_WEAR_KEEP_S; a reboot starts the counts again, so the samples
 * of another boot are dropped. The file's lines:
 *
 *   UNIX_SECONDS BOOT_ID MAJOR:MINOR SECTORS_WRITTEN
 *
 * The device's own wear figure, where the kernel exposes it: an eMMC's
 * life_time (two estimates, types A and B, in tenths of its life used:
 * 0x01 is 0-10%, ..., 0x0a 90-100%, 0x0b beyond) and pre_eol_info (0x01
 * normal, 0x02 warning: 80% of the reserved blocks used, 0x03 urgent) in
 * /sys/block/mmcblkN/device/; an NVMe drive's "percentage used" from its
 * SMART log (Get Log Page 02h through the kernel's admin ioctl on
 * /dev/nvmeN: no tool needed, but it takes CAP_SYS_ADMIN).
 *
 * LEDGER_SYSFS_ROOT (default /sys) is where sysfs is read; the tests point
 * it at a stub tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/nvme_ioctl.h>

#include "doctor/doctor.h"
#include "util/util.h"

#define SAMPLES_MAX 512 /* more than KEEP_S / EVERY_S; a longer file is cut */

static const char *
sysfs_root(void)
{
    const char *r = getenv("LEDGER_SYSFS_ROOT");
    return r != NULL && r[0] != '\0' ? r : "/sys";
}

/* The first line of path, without its newline, into buf: 0, or -errno. */
static int
read_line(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    int rc = 0;

    if (f == NULL)
        return -errno;
    if (fgets(buf, (int)cap, f) == NULL)
        rc = -EIO;
    else
        buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
    return rc;
}

static void
boot_id(char *buf, size_t cap)
{
    if (read_line("/proc/sys/kernel/random/boot_id", buf, cap) < 0 ||
        buf[0] == '\0' || strchr(buf, ' ') != NULL)
        snprintf(buf, cap, "-");
}

/* The device holding dir: its names, whole disk's size, and sectors
 * written since boot. 0, or LDG_ENOTFOUND with why in w->why. */
static int
device_of(const char *dir, struct ldg_doctor_wear *w)
{
    char path[PATH_MAX + 64], real[PATH_MAX], line[512], *slash;
    unsigned long long f[7];
    struct stat st;

    if (stat(dir, &st) != 0) {
        snprintf(w->why, sizeof w->why, "cannot stat %.300s: %s", dir,
                 strerror(errno));
        return LDG_ENOTFOUND;
    }
    w->major = major(st.st_dev);
    w->minor = minor(st.st_dev);
    snprintf(path, sizeof path, "%s/dev/block/%u:%u", sysfs_root(), w->major,
             w->minor);
    if (realpath(path, real) == NULL) {
        snprintf(w->why, sizeof w->why,
                 "the ledger's file system (device %u:%u) is on no block "
                 "device the kernel lists (%.300s: %s)",
                 w->major, w->minor, path, strerror(errno));
        return LDG_ENOTFOUND;
    }
    slash = strrchr(real, '/');
    snprintf(w->dev, sizeof w->dev, "%.63s", slash ? slash + 1 : real);
    snprintf(path, sizeof path, "%s/stat", real);
    if (read_line(path, line, sizeof line) < 0 ||
        sscanf(line, "%llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2],
               &f[3], &f[4], &f[5], &f[6]) != 7) {
        snprintf(w->why, sizeof w->why,
                 "cannot read %s's count of sectors written (%.300s)", w->dev,
                 path);
        return LDG_ENOTFOUND;
    }
    w->sectors = f[6];
    /* a partition's whole disk is its parent directory */
    snprintf(path, sizeof path, "%s/partition", real);
    if (access(path, F_OK) == 0 && slash != NULL)
        *slash = '\0';
    slash = strrchr(real, '/');
    snprintf(w->disk, sizeof w->disk, "%.63s", slash ? slash + 1 : real);
    snprintf(path, sizeof path, "%s/size", real);
    w->disk_bytes = 0;
    if (read_line(path, line, sizeof line) == 0)
        w->disk_bytes = strtoull(line, NULL, 10) * 512u;
    snprintf(w->disk_dir, sizeof w->disk_dir, "%s", real);
    return 0;
}

struct sample {
    uint64_t t, sectors;
    unsigned major, minor;
    char boot[40];
};

/* The samples of path that are of this boot and device, oldest first. */
static size_t
samples_read(const char *path, const char *boot, unsigned maj, unsigned min,
             struct sample *s, size_t cap)
{
    char line[256];
    size_t n = 0;
    /* never through a symlink planted in its place (a root reader) */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;

    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    while (n < cap && fgets(line, sizeof line, f) != NULL) {
        struct sample x;
        unsigned long long t, sec;
        if (sscanf(line, "%llu %39s %u:%u %llu", &t, x.boot, &x.major, &x.minor,
                   &sec) != 5 ||
            strcmp(x.boot, boot) != 0 || x.major != maj || x.minor != min)
            continue;
        x.t = t;
        x.sectors = sec;
        if (n > 0 && (x.t <= s[n - 1].t || x.sectors < s[n - 1].sectors))
            continue; /* out of order: not one history */
        LDG_ASSERT(n < cap && (n == 0 || (s[n - 1].t < x.t &&
                                          s[n - 1].sectors <= x.sectors)));
        s[n++] = x;
    }
    fclose(f);
    return n;
}

int
ldg_doctor_wear_sample(const char *dir, uint64_t now_s)
{
    struct ldg_doctor_wear w;
    struct sample *s;
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    size_t n, i;
    FILE *f;
    int rc = 0;

    if (dir == NULL)
        return LDG_EINVAL;
    if (access(dir, W_OK) != 0)
        return 0; /* a reader's view: the box's writer samples */
    memset(&w, 0, sizeof w);
    if (device_of(dir, &w) < 0)
        return LDG_ENOTFOUND;
    boot_id(w.boot, sizeof w.boot);
    snprintf(path, sizeof path, "%s/%s", dir, LDG_DOCTOR_WEAR_FILE);
    if ((s = calloc(SAMPLES_MAX, sizeof *s)) == NULL)
        return LDG_ENOMEM;
    n = samples_read(path, w.boot, w.major, w.minor, s, SAMPLES_MAX - 1);
    LDG_ASSERT(n <= SAMPLES_MAX - 1);
    if (n > 0 && now_s < s[n - 1].t + LDG_DOCTOR_WEAR_EVERY_S &&
        now_s >= s[n - 1].t)
        goto out; /* the last one is recent enough: nothing written */
    i = 0;
    while (i < n && s[i].t + LDG_DOCTOR_WEAR_KEEP_S < now_s)
        i++;
    {
        /* a name nobody could plant a symlink under (the ledger's user
         * could, for root's `ledger metrics`, with a fixed one) */
        int fd = ldg_tmp_beside(path, 0644, tmp, sizeof tmp);
        if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
            if (fd >= 0) {
                close(fd);
                unlink(tmp);
            }
            rc = LDG_EIO;
            goto out;
        }
    }
    for (; i < n; i++)
        if (s[i].t < now_s)
            fprintf(f, "%llu %s %u:%u %llu\n", (unsigned long long)s[i].t,
                    s[i].boot, s[i].major, s[i].minor,
                    (unsigned long long)s[i].sectors);
    fprintf(f, "%llu %s %u:%u %llu\n", (unsigned long long)now_s, w.boot,
            w.major, w.minor, (unsigned long long)w.sectors);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        rc = LDG_EIO;
    }
out:
    free(s);
    return rc;
}

/* eMMC: life_time and pre_eol_info of the disk's device directory. */
static void
emmc(struct ldg_doctor_wear *w)
{
    char path[PATH_MAX + 64], line[64];
    unsigned a, b, e;

    snprintf(path, sizeof path, "%s/device/life_time", w->disk_dir);
    if (read_line(path, line, sizeof line) < 0 ||
        sscanf(line, "%x %x", &a, &b) != 2)
        return;
    w->emmc_life_a = (int)a;
    w->emmc_life_b = (int)b;
    snprintf(path, sizeof path, "%s/device/pre_eol_info", w->disk_dir);
    if (read_line(path, line, sizeof line) == 0 && sscanf(line, "%x", &e) == 1)
        w->emmc_pre_eol = (int)e;
}

/* NVMe: "percentage used" (byte 5 of the SMART / health log, log page
 * 02h), through the admin ioctl on the controller's node. */
static void
nvme(struct ldg_doctor_wear *w)
{
    char ctrl[64], node[80];
    unsigned char log[512];
    struct nvme_admin_cmd cmd;
    char *p;
    int fd;

    if (strncmp(w->disk, "nvme", 4) != 0)
        return;
    w->is_nvme = 1;
    snprintf(ctrl, sizeof ctrl, "%s", w->disk);
    /* nvme0n1 -> nvme0 (the namespace's controller) */
    p = strrchr(ctrl, 'n');
    if (p != NULL && p > ctrl + 4)
        *p = '\0';
    snprintf(node, sizeof node, "/dev/%s", ctrl);
    if ((fd = open(node, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(w->nvme_why, sizeof w->nvme_why, "cannot open %s: %s", node,
                 strerror(errno));
        return;
    }
    memset(&cmd, 0, sizeof cmd);
    memset(log, 0, sizeof log);
    cmd.opcode = 0x02; /* Get Log Page */
    cmd.nsid = 0xffffffffu;
    cmd.addr = (uint64_t)(uintptr_t)log;
    cmd.data_len = sizeof log;
    cmd.cdw10 = ((sizeof log / 4 - 1) << 16) | 0x02; /* NUMDL, SMART log */
    if (ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd) != 0)
        snprintf(w->nvme_why, sizeof w->nvme_why,
                 "its SMART log was not given (%s on %s)", strerror(errno),
                 node);
    else
        w->nvme_used = log[5];
    close(fd);
}

int
ldg_doctor_wear_measure(const char *dir, uint64_t now_s,
                        struct ldg_doctor_wear *w)
{
    struct sample *s;
    char path[PATH_MAX], line[128];
    size_t n, i;

    if (dir == NULL || w == NULL)
        return LDG_EINVAL;
    memset(w, 0, sizeof *w);
    w->emmc_life_a = w->emmc_life_b = w->emmc_pre_eol = -1;
    w->nvme_used = -1;
    if (device_of(dir, w) < 0)
        return LDG_ENOTFOUND;
    boot_id(w->boot, sizeof w->boot);
    if (read_line("/proc/uptime", line, sizeof line) == 0)
        w->uptime_s = strtod(line, NULL);
    emmc(w);
    nvme(w);
    snprintf(path, sizeof path, "%s/%s", dir, LDG_DOCTOR_WEAR_FILE);
    if ((s = calloc(SAMPLES_MAX, sizeof *s)) == NULL)
        return LDG_ENOMEM;
    n = samples_read(path, w->boot, w->major, w->minor, s, SAMPLES_MAX);
    /* the newest sample at least an hour (a day) old: the window runs
     * from it to now */
    for (i = n; i-- > 0;) {
        if (s[i].t > now_s || s[i].sectors > w->sectors)
            continue;
        LDG_ASSERT(s[i].t <= now_s && s[i].sectors <= w->sectors);
        if (w->history_s < now_s - s[i].t)
            w->history_s = now_s - s[i].t;
        if (!w->hour_s && now_s - s[i].t >= 3600) {
            w->hour_s = now_s - s[i].t;
            w->hour_bytes = (w->sectors - s[i].sectors) * 512u;
        }
        if (!w->day_s && now_s - s[i].t >= 86400) {
            w->day_s = now_s - s[i].t;
            w->day_bytes = (w->sectors - s[i].sectors) * 512u;
        }
    }
    free(s);
    return 0;
}
