package dtsen;

import org.apache.spark.sql.api.java.UDF2;

/**
 * DuckDB's jaro_winkler_similarity as a Spark UDF, so both engines give the same value to the last bit.
 *
 * <p>Splink's jar counts half transpositions as fractions (3 -> 1.5) where DuckDB rounds them down, and a
 * SQL port is 160x slower than a compiled function. DuckDB's compiled code also rounds j + 0.1 n (1 - j)
 * once, as a fused multiply-add; Math.fma does the same here. Written by hand: no library ships DuckDB's
 * arithmetic for the JVM.
 */
public final class JaroWinkler implements UDF2<String, String, Double> {
    private static final long serialVersionUID = 1L;

    @Override
    public Double call(String a, String b) {
        if (a == null || b == null) {
            return null;
        }
        return similarity(a.codePoints().toArray(), b.codePoints().toArray());
    }

    static double similarity(int[] a, int[] b) {
        int la = a.length;
        int lb = b.length;
        int window = Math.max(Math.max(la, lb) / 2 - 1, 0);
        boolean[] fa = new boolean[la];
        boolean[] fb = new boolean[lb];
        int m = 0;
        for (int i = 0; i < la; i++) {
            int from = Math.max(0, i - window);
            int to = Math.min(lb - 1, i + window);
            for (int k = from; k <= to; k++) {
                if (!fb[k] && b[k] == a[i]) {
                    fa[i] = true;
                    fb[k] = true;
                    m++;
                    break;
                }
            }
        }
        if (m == 0) {
            return 0.0;
        }
        int half = 0;
        for (int i = 0, k = 0; i < la; i++) {
            if (fa[i]) {
                while (!fb[k]) {
                    k++;
                }
                if (a[i] != b[k]) {
                    half++;
                }
                k++;
            }
        }
        int t = half / 2;
        double j = ((double) m / la + (double) m / lb + (double) (m - t) / m) / 3.0;
        if (j <= 0.7) {
            return j;
        }
        int n = 0;
        int most = Math.min(4, Math.min(la, lb));
        while (n < most && a[n] == b[n]) {
            n++;
        }
        return Math.fma(0.1 * n, 1.0 - j, j);
    }
}
