package io.reelay.cli;

import com.typesafe.config.Config;
import io.reelay.worker.StateCipher;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Optional;

/** The local working area ({@code var/} under {@code reelay.home}): Kafka data, API key, logs. */
final class Home {

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

  /** The dev-mode snapshot key in var/state-key, created on first use (owner-only). */
  String stateKey() throws IOException {
    Path f = var().resolve("state-key");
    if (Files.exists(f)) {
      return Files.readString(f).trim();
    }
    Files.createDirectories(var());
    String key = StateCipher.newKey();
    Files.writeString(f, key + "\n");
    ownerOnly(f);
    return key;
  }

  private static void ownerOnly(Path f) throws IOException {
    try {
      Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException ignored) {
      // not a POSIX file system
    }
  }

  /** Generates a fresh API key and stores it readable by the owner only. */
  String writeNewApiKey() throws IOException {
    byte[] b = new byte[24];
    new SecureRandom().nextBytes(b);
    String key = "rl_" + HexFormat.of().formatHex(b);
    Files.createDirectories(var());
    Path f = apiKeyFile();
    Files.writeString(f, key + "\n");
    ownerOnly(f);
    return key;
  }
}
