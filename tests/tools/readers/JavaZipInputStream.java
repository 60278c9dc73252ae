import java.io.BufferedInputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Reads a zip strictly sequentially from standard input (a pipe) with java.util.zip.ZipInputStream, the
 * reader of Android and most server-side upload handlers, and prints name, size and recomputed CRC-32 of
 * every entry. ZipInputStream itself checks each entry's CRC and size against its header or descriptor.
 */
public class JavaZipInputStream {
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        byte[] buf = new byte[1 << 16];
        try (ZipInputStream zin = new ZipInputStream(new BufferedInputStream(System.in, 1 << 16), StandardCharsets.UTF_8)) {
            ZipEntry e;
            while ((e = zin.getNextEntry()) != null) {
                CRC32 crc = new CRC32();
                long size = 0;
                int n;
                while ((n = zin.read(buf)) > 0) {
                    crc.update(buf, 0, n);
                    size += n;
                }
                out.printf("%s\t%d\t%08x%n", e.getName(), size, crc.getValue());
            }
        }
        out.flush();
    }
}
