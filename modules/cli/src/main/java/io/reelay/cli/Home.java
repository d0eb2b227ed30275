package io.reelay.cli;

import com.typesafe.config.Config;
import io.reelay.worker.StateCipher;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;

/** The local working area ({@code var/} under {@code reelay.home}): Kafka data, API key, logs. */
final class Home {

  private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

  private final Path root;

  Home(Config config) {
    this.root = Path.of(config.getString("reelay.home")).toAbsolutePath().normalize();
  }

  Path var() {
    return root.resolve("var");
  }

  Path apiKeyFile() {
    return var().resolve("api-key");
  }

  /** The API key written by {@code reelay up}, if any. */
  Optional<String> readApiKey() {
    try {
      Path f = apiKeyFile();
      return Files.exists(f) ? Optional.of(Files.readString(f).trim()).filter(s -> !s.isEmpty()) : Optional.empty();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  Path stateKeyFile() {
    return var().resolve("state-key");
  }

  /**
   * The dev-mode snapshot key in var/state-key, created on first use: owner-only from the moment
   * the file exists, and never written over (another process may have just created it).
   */
  String stateKey() throws IOException {
    Path f = stateKeyFile();
    Files.createDirectories(var());
    String key = StateCipher.newKey();
    try {
      writeOwnerOnly(f, key);
      return key;
    } catch (FileAlreadyExistsException kept) {
      String existing = Files.readString(f).trim();
      if (existing.isEmpty()) {
        throw new IOException(f + " is empty (being written by another reelay, or damaged); delete it to have a new one made");
      }
      return existing;
    }
  }

  /** Generates a fresh API key and stores it readable by the owner only (replacing the previous one whole). */
  String writeNewApiKey() throws IOException {
    byte[] b = new byte[24];
    new SecureRandom().nextBytes(b);
    String key = "rl_" + HexFormat.of().formatHex(b);
    Files.createDirectories(var());
    Path next = var().resolve("api-key." + HexFormat.of().formatHex(b, 0, 4) + ".new");
    writeOwnerOnly(next, key);
    try {
      Files.move(next, apiKeyFile(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(next);
      throw e;
    }
    return key;
  }

  /**
   * Writes {@code text} to a new file, created owner-only in the same step (rw------- on POSIX file
   * systems); a file already there is left alone ({@link FileAlreadyExistsException}). Elsewhere
   * (Windows) there are no mode bits: the file gets its directory's ACL, which under the user's own
   * profile is the user's.
   */
  private static void writeOwnerOnly(Path f, String text) throws IOException {
    FileAttribute<?>[] ownerOnly = f.getFileSystem().supportedFileAttributeViews().contains("posix")
        ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(OWNER_ONLY)}
        : new FileAttribute<?>[0];
    SeekableByteChannel out = Files.newByteChannel(f, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), ownerOnly);
    try (out) {
      ByteBuffer bytes = ByteBuffer.wrap((text + "\n").getBytes(StandardCharsets.UTF_8));
      while (bytes.hasRemaining()) {
        out.write(bytes);
      }
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(f); // ours, half written: the next try makes it anew
      throw e;
    }
  }
}
