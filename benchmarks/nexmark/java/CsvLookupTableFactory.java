// Strom's Nexmark benchmark: a lookup table over a small CSV file, for q13's side input.
//
// The reference's q13 declares its side input with Flink's legacy file-system connector
// ('connector.type' = 'filesystem', 'format.type' = 'csv'), whose CSV source was also a
// lookup source: it read the whole file into memory and answered each lookup from there.
// Flink 2 no longer has that connector, and the current 'filesystem' connector is not a
// lookup source (a FOR SYSTEM_TIME AS OF join over it fails to plan). This connector does
// what the legacy one did, so q13 stays a processing-time lookup join as in the reference:
//
//   CREATE TABLE side_input (key BIGINT, `value` VARCHAR)
//   WITH ('connector' = 'csv-lookup', 'path' = '/abs/path/side_input.csv');
//
// The file: one row per line, fields separated by ',', no header; a field may be written in
// double quotes with inner quotes doubled. Columns may be BIGINT, INT, DOUBLE, BOOLEAN or
// VARCHAR/STRING; an empty unquoted field is NULL for the non-text types. A lookup returns
// every row whose key columns equal the probe (an inner lookup join drops probes with none).
// Only a lookup source: scanning the table (SELECT * FROM side_input) is not supported.
package strom.nexmark;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.connector.source.LookupTableSource;
import org.apache.flink.table.connector.source.lookup.LookupFunctionProvider;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.factories.DynamicTableSourceFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.functions.FunctionContext;
import org.apache.flink.table.functions.LookupFunction;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

public class CsvLookupTableFactory implements DynamicTableSourceFactory {
    public static final ConfigOption<String> PATH =
            ConfigOptions.key("path").stringType().noDefaultValue()
                    .withDescription("The CSV file (a local path or a file:// URI).");

    @Override
    public String factoryIdentifier() {
        return "csv-lookup";
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Set.of(PATH);
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Set.of();
    }

    @Override
    public DynamicTableSource createDynamicTableSource(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        helper.validate();
        String path = helper.getOptions().get(PATH);
        RowType rowType = (RowType) context.getCatalogTable().getResolvedSchema()
                .toPhysicalRowDataType().getLogicalType();
        return new Source(path, rowType);
    }

    public static final class Source implements LookupTableSource {
        private final String path;
        private final RowType rowType;

        Source(String path, RowType rowType) {
            this.path = path;
            this.rowType = rowType;
        }

        @Override
        public LookupRuntimeProvider getLookupRuntimeProvider(LookupContext context) {
            int[][] keyPaths = context.getKeys();
            int[] keys = new int[keyPaths.length];
            for (int i = 0; i < keys.length; i++) {
                if (keyPaths[i].length != 1) {
                    throw new UnsupportedOperationException("csv-lookup: nested lookup keys");
                }
                keys[i] = keyPaths[i][0];
            }
            return LookupFunctionProvider.of(new Lookup(path, rowType, keys));
        }

        @Override
        public DynamicTableSource copy() {
            return new Source(path, rowType);
        }

        @Override
        public String asSummaryString() {
            return "csv-lookup(" + path + ")";
        }
    }

    public static final class Lookup extends LookupFunction {
        private final String path;
        private final RowType rowType;
        private final int[] keys;
        private transient Map<RowData, List<RowData>> index;
        private transient RowData.FieldGetter[] keyGetters;

        public Lookup(String path, RowType rowType, int[] keys) {
            this.path = path;
            this.rowType = rowType;
            this.keys = keys;
        }

        @Override
        public void open(FunctionContext context) throws Exception {
            index = new HashMap<>();
            List<LogicalType> types = rowType.getChildren();
            keyGetters = new RowData.FieldGetter[keys.length];
            for (int i = 0; i < keys.length; i++) {
                keyGetters[i] = RowData.createFieldGetter(types.get(keys[i]), i);
            }
            String file = path.startsWith("file://") ? path.substring("file://".length()) : path;
            try (BufferedReader in = Files.newBufferedReader(Path.of(file), StandardCharsets.UTF_8)) {
                String line;
                int lineNo = 0;
                while ((line = in.readLine()) != null) {
                    lineNo++;
                    if (line.isEmpty()) {
                        continue;
                    }
                    List<String> fields = split(line);
                    if (fields.size() != types.size()) {
                        throw new IOException(file + ":" + lineNo + ": " + fields.size()
                                + " fields, the table has " + types.size() + " columns");
                    }
                    GenericRowData row = new GenericRowData(types.size());
                    for (int i = 0; i < types.size(); i++) {
                        row.setField(i, convert(fields.get(i), types.get(i)));
                    }
                    GenericRowData key = new GenericRowData(keys.length);
                    for (int i = 0; i < keys.length; i++) {
                        key.setField(i, row.getField(keys[i]));
                    }
                    index.computeIfAbsent(key, k -> new ArrayList<>(1)).add(row);
                }
            }
        }

        @Override
        public Collection<RowData> lookup(RowData keyRow) {
            GenericRowData key = new GenericRowData(keys.length);
            for (int i = 0; i < keys.length; i++) {
                key.setField(i, keyGetters[i].getFieldOrNull(keyRow));
            }
            List<RowData> rows = index.get(key);
            return rows == null ? Collections.emptyList() : rows;
        }

        /** RFC 4180 fields of one line; null for an empty unquoted field. */
        static List<String> split(String line) {
            List<String> out = new ArrayList<>();
            StringBuilder cur = new StringBuilder();
            boolean quoted = false, wasQuoted = false;
            for (int i = 0; i < line.length(); i++) {
                char c = line.charAt(i);
                if (quoted) {
                    if (c == '"') {
                        if (i + 1 < line.length() && line.charAt(i + 1) == '"') {
                            cur.append('"');
                            i++;
                        } else {
                            quoted = false;
                        }
                    } else {
                        cur.append(c);
                    }
                } else if (c == '"') {
                    quoted = true;
                    wasQuoted = true;
                } else if (c == ',') {
                    out.add(cur.length() == 0 && !wasQuoted ? null : cur.toString());
                    cur.setLength(0);
                    wasQuoted = false;
                } else if (c != '\r') {
                    cur.append(c);
                }
            }
            out.add(cur.length() == 0 && !wasQuoted ? null : cur.toString());
            return out;
        }

        static Object convert(String s, LogicalType type) {
            switch (type.getTypeRoot()) {
                case CHAR:
                case VARCHAR:
                    return StringData.fromString(s == null ? "" : s);
                case BIGINT:
                    return s == null ? null : Long.parseLong(s.trim());
                case INTEGER:
                    return s == null ? null : Integer.parseInt(s.trim());
                case DOUBLE:
                    return s == null ? null : Double.parseDouble(s.trim());
                case BOOLEAN:
                    return s == null ? null : Boolean.parseBoolean(s.trim());
                default:
                    throw new UnsupportedOperationException("csv-lookup: column type " + type);
            }
        }
    }
}
