/* Times a tl2cgen-compiled model (.so) natively, with no Python in the loop, on
 * one thread; prints one JSON object. Built and run by benches/peer.py:
 *
 *   gcc -O2 -o tl2cgen_bench benches/tl2cgen_bench.c -ldl
 *   tl2cgen_bench batch  LIB.so DATA.f32 COLS [REPEATS [MIN_SECONDS]]
 *   tl2cgen_bench single LIB.so DATA.f32 COLS [CALLS [DISTINCT]]
 *   tl2cgen_bench dump   LIB.so DATA.f32 COLS OUT.f32 MARGIN(0|1)
 *
 * DATA is raw float32, row-major. The rows are converted to tl2cgen's `union
 * Entry` once, before timing (NaN -> missing), so only `predict` is timed:
 * the most favourable setting for tl2cgen. `batch` calls predict for every row,
 * REPEATS times after one warm-up pass (and until MIN_SECONDS passed), and
 * reports the median rows/s. `single` times CALLS one-row calls, each on the
 * next of DISTINCT rows, after 1000 warm-up calls: median and p99 in us.
 */
#define _POSIX_C_SOURCE 199309L
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

union Entry {
  int missing;
  float fvalue;
  int qvalue;
};

typedef void (*predict_fn)(union Entry *, int, float *);
typedef int32_t (*num_fn)(void);
typedef void (*num_class_fn)(int32_t *);

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double quantile(double *v, size_t n, double q) {
  qsort(v, n, sizeof(double), cmp);
  size_t rank = (size_t)ceil(q * (double)n);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1];
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof(double), cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s batch|single|dump LIB.so DATA.f32 COLS ...\n", argv[0]);
    return 2;
  }
  const char *mode = argv[1];
  void *lib = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  predict_fn predict = (predict_fn)dlsym(lib, "predict");
  num_fn num_target = (num_fn)dlsym(lib, "get_num_target");
  num_class_fn num_class = (num_class_fn)dlsym(lib, "get_num_class");
  if (!predict || !num_target || !num_class) {
    fprintf(stderr, "missing symbols in %s\n", argv[2]);
    return 1;
  }
  int32_t nt = num_target();
  int32_t *nc = calloc((size_t)nt, sizeof(int32_t));
  num_class(nc);
  size_t width = 0;
  for (int32_t i = 0; i < nt; i++) width = (size_t)nc[i] > width ? (size_t)nc[i] : width;
  width *= (size_t)nt;

  size_t cols = (size_t)atol(argv[4]);
  FILE *f = fopen(argv[3], "rb");
  if (!f) {
    perror(argv[3]);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  size_t rows = (size_t)ftell(f) / 4 / cols;
  fseek(f, 0, SEEK_SET);
  float *x = malloc(rows * cols * sizeof(float));
  if (fread(x, sizeof(float), rows * cols, f) != rows * cols) {
    fprintf(stderr, "short read\n");
    return 1;
  }
  fclose(f);
  union Entry *e = malloc(rows * cols * sizeof(union Entry));
  for (size_t i = 0; i < rows * cols; i++) {
    if (isnan(x[i]))
      e[i].missing = -1;
    else
      e[i].fvalue = x[i];
  }
  float *out = calloc(rows * width, sizeof(float));
  volatile float sink = 0;

  if (!strcmp(mode, "batch")) {
    int repeats = argc > 5 ? atoi(argv[5]) : 3;
    double min_s = argc > 6 ? atof(argv[6]) : 0.0;
    double rates[10000];
    int n = 0;
    double start = 0;
    for (int r = -1; n < 10000 && (r < repeats || now() - start < min_s); r++) {
      if (r == 0) start = now();
      double t = now();
      memset(out, 0, rows * width * sizeof(float));
      for (size_t i = 0; i < rows; i++) predict(e + i * cols, 0, out + i * width);
      double dt = now() - t;
      sink += out[rows * width - 1];
      if (r >= 0) rates[n++] = (double)rows / dt;
    }
    printf("{\"mode\":\"batch\",\"rows\":%zu,\"repeats\":%d,\"rows_per_s\":%.6g}\n", rows, n,
           median(rates, (size_t)n));
  } else if (!strcmp(mode, "single")) {
    size_t calls = argc > 5 ? (size_t)atol(argv[5]) : 20000;
    size_t distinct = argc > 6 ? (size_t)atol(argv[6]) : 1000;
    if (distinct > rows) distinct = rows;
    double *us = malloc(calls * sizeof(double));
    float res[4096];
    for (size_t i = 0; i < 1000; i++) {
      memset(res, 0, width * sizeof(float));
      predict(e + (i % distinct) * cols, 0, res);
      sink += res[0];
    }
    for (size_t i = 0; i < calls; i++) {
      double t = now();
      memset(res, 0, width * sizeof(float));
      predict(e + (i % distinct) * cols, 0, res);
      us[i] = (now() - t) * 1e6;
      sink += res[0];
    }
    double p99 = quantile(us, calls, 0.99);
    printf("{\"mode\":\"single\",\"calls\":%zu,\"median_us\":%.6g,\"p99_us\":%.6g}\n", calls,
           median(us, calls), p99);
  } else if (!strcmp(mode, "dump") && argc > 6) {
    int margin = atoi(argv[6]);
    for (size_t i = 0; i < rows; i++) predict(e + i * cols, margin, out + i * width);
    FILE *o = fopen(argv[5], "wb");
    if (!o || fwrite(out, sizeof(float), rows * width, o) != rows * width) {
      perror(argv[5]);
      return 1;
    }
    fclose(o);
    printf("{\"mode\":\"dump\",\"rows\":%zu,\"width\":%zu}\n", rows, width);
  } else {
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
  }
  return 0;
}
