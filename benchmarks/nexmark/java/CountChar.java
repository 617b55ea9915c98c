// Strom's Nexmark benchmark: the COUNT_CHAR user-defined function of q14, for Flink.
//
// count_char(s, c) is the number of bytes of the UTF-8 text s equal to the first byte of c
// (0 when s is NULL), as the reference's UDF (nexmark/nexmark, CountChar.java) computes it.
// Compiled by benchmarks/nexmark/lib.sh against the Flink jars and put on Flink's class path;
// sql/q14.sql registers it with CREATE FUNCTION ... AS 'strom.nexmark.CountChar'.
package strom.nexmark;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.ScalarFunction;

public class CountChar extends ScalarFunction {
    public long eval(@DataTypeHint("STRING") StringData s, @DataTypeHint("STRING") StringData c) {
        long count = 0;
        if (s != null) {
            byte wanted = c.toBytes()[0];
            for (byte b : s.toBytes()) {
                if (b == wanted) {
                    count++;
                }
            }
        }
        return count;
    }
}
