import java.io.BufferedInputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import org.apache.commons.compress.archivers.zip.ZipArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipArchiveInputStream;

/**
 * Reads a zip strictly sequentially from standard input with Apache commons-compress's
 * ZipArchiveInputStream and prints name, size and CRC-32 of every entry. With the argument
 * "allow-stored-descriptor" it sets allowStoredEntriesWithDataDescriptor (off by default).
 */
public class CommonsCompressStream {
    public static void main(String[] args) throws Exception {
        boolean allow = args.length > 0 && args[0].equals("allow-stored-descriptor");
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        byte[] buf = new byte[1 << 16];
        try (ZipArchiveInputStream zin = new ZipArchiveInputStream(new BufferedInputStream(System.in, 1 << 16), "UTF-8", true, allow)) {
            ZipArchiveEntry e;
            while ((e = zin.getNextZipEntry()) != null) {
                CRC32 crc = new CRC32();
                long size = 0;
                int n;
                while ((n = zin.read(buf)) > 0) {
                    crc.update(buf, 0, n);
                    size += n;
                }
                // The stream does not check CRCs itself: compare with what the headers said, when they said it.
                if (e.getCrc() != -1 && e.getCrc() != 0 && e.getCrc() != crc.getValue()) {
                    System.err.printf("%s: CRC %08x, header %08x%n", e.getName(), crc.getValue(), e.getCrc());
                    System.exit(1);
                }
                out.printf("%s\t%d\t%08x%n", e.getName(), size, crc.getValue());
            }
        }
        out.flush();
    }
}
