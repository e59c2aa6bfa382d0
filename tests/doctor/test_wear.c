/*
 * test_wear.c — doctor/wear.c against a stub sysfs (LEDGER_SYSFS_ROOT):
 * the samples `ledger metrics` takes (one in LDG_DOCTOR_WEAR_EVERY_S,
 * another boot's and old ones dropped) and the windows, device and disk
 * the doctor's storage-wear clause is made of.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "doctor/doctor.h"
#include "tests/support/support.h"

struct fx {
    char dir[256];  /* the "ledger directory" */
    char sys[300];  /* the stub sysfs */
    char disk[400]; /* its disk's directory */
    char boot[64];
    unsigned maj, min;
};

static void
put(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The device's count of sectors written since boot. */
static void
sectors(struct fx *x, unsigned long long n)
{
    char p[512], line[128];
    snprintf(p, sizeof p, "%s/mmcblk0p1/stat", x->disk);
    snprintf(line, sizeof line, "1 0 8 1 1 0 %llu 1 0 1 1\n", n);
    put(p, line);
}

static int
setup(void **state)
{
    struct fx *x = calloc(1, sizeof *x);
    char p[900], target[600];
    struct stat st;
    FILE *f;

    snprintf(x->dir, sizeof x->dir, "%s/test_wear.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(x->dir));
    snprintf(x->sys, sizeof x->sys, "%s/sys", x->dir);
    assert_int_equal(stat(x->dir, &st), 0);
    x->maj = major(st.st_dev);
    x->min = minor(st.st_dev);
    snprintf(x->disk, sizeof x->disk, "%s/block/mmcblk0", x->sys);
    snprintf(p, sizeof p, "mkdir -p %s/mmcblk0p1 %s/dev/block", x->disk,
             x->sys);
    assert_int_equal(system(p), 0);
    snprintf(p, sizeof p, "%s/size", x->disk);
    put(p, "62521344\n"); /* 29.8 GiB */
    snprintf(p, sizeof p, "%s/mmcblk0p1/partition", x->disk);
    put(p, "1\n");
    snprintf(p, sizeof p, "%s/dev/block/%u:%u", x->sys, x->maj, x->min);
    snprintf(target, sizeof target, "../../block/mmcblk0/mmcblk0p1");
    assert_int_equal(symlink(target, p), 0);
    sectors(x, 1000);
    f = fopen("/proc/sys/kernel/random/boot_id", "r");
    assert_non_null(f);
    assert_non_null(fgets(x->boot, sizeof x->boot, f));
    x->boot[strcspn(x->boot, "\n")] = '\0';
    fclose(f);
    setenv("LEDGER_SYSFS_ROOT", x->sys, 1);
    *state = x;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *x = *state;
    unsetenv("LEDGER_SYSFS_ROOT");
    t_rmrf(x->dir);
    free(x);
    return 0;
}

static int
lines(const struct fx *x)
{
    char p[400], line[256];
    int n = 0;
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", x->dir, LDG_DOCTOR_WEAR_FILE);
    if ((f = fopen(p, "r")) == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        n++;
    fclose(f);
    return n;
}

static void
test_wear__a_sample_every_ten_minutes_at_most(void **state)
{
    struct fx *x = *state;
    const uint64_t t = 1800000000u;

    assert_int_equal(ldg_doctor_wear_sample(x->dir, t), 0);
    assert_int_equal(lines(x), 1);
    sectors(x, 2000);
    assert_int_equal(ldg_doctor_wear_sample(x->dir, t + 599), 0);
    assert_int_equal(lines(x), 1); /* too soon: nothing written */
    assert_int_equal(
        ldg_doctor_wear_sample(x->dir, t + LDG_DOCTOR_WEAR_EVERY_S), 0);
    assert_int_equal(lines(x), 2);
    /* past the time kept, the old ones go */
    assert_int_equal(
        ldg_doctor_wear_sample(x->dir, t + LDG_DOCTOR_WEAR_KEEP_S + 700), 0);
    assert_int_equal(lines(x), 1);
}

static void
test_wear__windows_from_the_samples_of_this_boot(void **state)
{
    struct fx *x = *state;
    const uint64_t now = 1800000000u;
    struct ldg_doctor_wear w;
    char p[400], text[1024];

    snprintf(p, sizeof p, "%s/%s", x->dir, LDG_DOCTOR_WEAR_FILE);
    snprintf(text, sizeof text,
             "%llu another-boot %u:%u 1\n"
             "%llu %s %u:%u 1000\n"
             "%llu %s %u:%u 5000\n"
             "%llu %s %u:%u 9000\n",
             (unsigned long long)(now - 100000), x->maj, x->min,
             (unsigned long long)(now - 90000), x->boot, x->maj, x->min,
             (unsigned long long)(now - 4000), x->boot, x->maj, x->min,
             (unsigned long long)(now - 1200), x->boot, x->maj, x->min);
    put(p, text);
    sectors(x, 11000);
    assert_int_equal(ldg_doctor_wear_measure(x->dir, now, &w), 0);
    assert_string_equal(w.dev, "mmcblk0p1");
    assert_string_equal(w.disk, "mmcblk0");
    assert_int_equal(w.disk_bytes, 62521344ull * 512);
    assert_int_equal(w.hour_s, 4000);
    assert_int_equal(w.hour_bytes, (11000 - 5000) * 512);
    assert_int_equal(w.day_s, 90000);
    assert_int_equal(w.day_bytes, (11000 - 1000) * 512);
    assert_int_equal(w.history_s, 90000);
    assert_int_equal(w.emmc_life_a, -1); /* no life_time given */
    assert_int_equal(w.is_nvme, 0);
}

static void
test_wear__no_history_no_window(void **state)
{
    struct fx *x = *state;
    struct ldg_doctor_wear w;

    assert_int_equal(ldg_doctor_wear_sample(x->dir, 1800000000u), 0);
    assert_int_equal(ldg_doctor_wear_measure(x->dir, 1800000000u + 1800, &w),
                     0);
    assert_int_equal(w.hour_s, 0);
    assert_int_equal(w.day_s, 0);
    assert_int_equal(w.sectors, 1000);
}

static void
test_wear__emmc_life_time_read(void **state)
{
    struct fx *x = *state;
    struct ldg_doctor_wear w;
    char p[600];

    snprintf(p, sizeof p, "mkdir -p %s/device", x->disk);
    assert_int_equal(system(p), 0);
    snprintf(p, sizeof p, "%s/device/life_time", x->disk);
    put(p, "0x03 0x0b\n");
    snprintf(p, sizeof p, "%s/device/pre_eol_info", x->disk);
    put(p, "0x02\n");
    assert_int_equal(ldg_doctor_wear_measure(x->dir, 1800000000u, &w), 0);
    assert_int_equal(w.emmc_life_a, 3);
    assert_int_equal(w.emmc_life_b, 0x0b);
    assert_int_equal(w.emmc_pre_eol, 2);
}

static void
test_wear__no_block_device_said(void **state)
{
    struct fx *x = *state;
    struct ldg_doctor_wear w;
    char p[400];

    snprintf(p, sizeof p, "%s/dev/block/%u:%u", x->sys, x->maj, x->min);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(ldg_doctor_wear_measure(x->dir, 1800000000u, &w),
                     LDG_ENOTFOUND);
    assert_non_null(strstr(w.why, "on no block device the kernel lists"));
    assert_int_equal(ldg_doctor_wear_sample(x->dir, 1800000000u),
                     LDG_ENOTFOUND);
    assert_int_equal(lines(x), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_wear__a_sample_every_ten_minutes_at_most, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_wear__windows_from_the_samples_of_this_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wear__no_history_no_window, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wear__emmc_life_time_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wear__no_block_device_said, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
