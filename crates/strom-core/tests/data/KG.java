import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.util.MathUtils;
import org.apache.flink.api.java.tuple.Tuple2;
public class KG {
  public static void main(String[] a) {
    Object[] keys = { 0, 1, 2, 42, -1, 123456789, Integer.MIN_VALUE, Integer.MAX_VALUE, 7L, -5L, 1L<<40, "a", "hello", "sensor-7", "s039", "", "é", Tuple2.of(1,2), Tuple2.of("x", 3L), true, false };
    for (Object k : keys) {
      int h = k.hashCode();
      System.out.print(k.getClass().getSimpleName()+"\t"+k+"\t"+h+"\t"+MathUtils.murmurHash(h));
      for (int mp : new int[]{128, 1000}) {
        int kg = KeyGroupRangeAssignment.assignToKeyGroup(k, mp);
        System.out.print("\t"+kg);
        for (int p : new int[]{1,2,3,7}) System.out.print(","+KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup(mp, p, kg));
      }
      System.out.println();
    }
    for (int mp : new int[]{128, 1000}) for (int p : new int[]{1,2,3,7}) for (int i=0;i<p;i++) {
      var r = KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(mp, p, i);
      System.out.println("range\t"+mp+"\t"+p+"\t"+i+"\t"+r.getStartKeyGroup()+"\t"+r.getEndKeyGroup());
    }
  }
}
