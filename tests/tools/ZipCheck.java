import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Enumeration;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/** Reads every entry of a zip with java.util.zip.ZipFile and prints name, size and recomputed CRC-32. */
public class ZipCheck {
    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        byte[] buf = new byte[1 << 20];
        try (ZipFile zf = new ZipFile(args[0], StandardCharsets.UTF_8)) {
            Enumeration<? extends ZipEntry> entries = zf.entries();
            while (entries.hasMoreElements()) {
                ZipEntry e = entries.nextElement();
                CRC32 crc = new CRC32();
                long size = 0;
                try (InputStream in = zf.getInputStream(e)) {
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        crc.update(buf, 0, n);
                        size += n;
                    }
                }
                if (size != e.getSize() || crc.getValue() != e.getCrc()) {
                    System.err.printf("%s: read %d/%08x, header %d/%08x%n", e.getName(), size, crc.getValue(), e.getSize(), e.getCrc());
                    System.exit(1);
                }
                out.printf("%s\t%d\t%08x%n", e.getName(), size, crc.getValue());
            }
        }
        out.flush();
    }
}
