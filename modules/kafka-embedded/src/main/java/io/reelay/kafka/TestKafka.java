package io.reelay.kafka;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kafka broker of a test JVM: started lazily on first use, shared by every test class of the
 * JVM, stopped by a shutdown hook. Tests isolate themselves with fresh topic and group names from
 * {@link #uniqueName(String)}.
 *
 * <p>Which broker, chosen by the system property or environment variable {@code
 * REELAY_TEST_KAFKA}:
 *
 * <ul>
 *   <li>{@code embedded} — an {@link EmbeddedKafka} in this JVM, data in a temp dir;
 *   <li>{@code docker} — a Testcontainers {@code apache/kafka} container (fails if Docker is
 *       missing);
 *   <li>unset/{@code auto} — Docker when the Testcontainers classes are on the classpath and a
 *       Docker engine answers, the embedded broker otherwise.
 * </ul>
 *
 * {@code REELAY_TEST_KAFKA_BOOTSTRAP=host:port} uses an already running broker instead.
 */
public final class TestKafka {

  private static final Logger log = LoggerFactory.getLogger(TestKafka.class);
  private static final AtomicLong COUNTER = new AtomicLong();
  private static String bootstrap;

  private TestKafka() {}

  /** The shared broker's bootstrap servers; starts it on first call. */
  public static synchronized String bootstrapServers() {
    if (bootstrap == null) {
      bootstrap = startBroker();
    }
    return bootstrap;
  }

  /**
   * A name no other test in this JVM (or a previous run on the same broker) uses, legal as a
   * topic, group or id: {@code prefix-<n>-<random>}.
   */
  public static String uniqueName(String prefix) {
    String random = UUID.randomUUID().toString().replace("-", "").substring(0, 8);
    return prefix + "-" + COUNTER.incrementAndGet() + "-" + random;
  }

  private static String startBroker() {
    String external = setting("REELAY_TEST_KAFKA_BOOTSTRAP");
    if (external != null) {
      log.info("test Kafka: using the broker at {}", external);
      return external;
    }
    String mode = setting("REELAY_TEST_KAFKA");
    mode = mode == null ? "auto" : mode.toLowerCase(Locale.ROOT);
    switch (mode) {
      case "embedded":
        return startEmbedded();
      case "docker":
        if (!testcontainersOnClasspath()) {
          throw new IllegalStateException("REELAY_TEST_KAFKA=docker but Testcontainers is not on the classpath");
        }
        return DockerKafka.start();
      case "auto":
        if (testcontainersOnClasspath() && DockerKafka.dockerAvailable()) {
          return DockerKafka.start();
        }
        return startEmbedded();
      default:
        throw new IllegalStateException("REELAY_TEST_KAFKA must be embedded, docker or auto, not '" + mode + "'");
    }
  }

  private static String startEmbedded() {
    Path dir;
    try {
      dir = Files.createTempDirectory("reelay-test-kafka-");
    } catch (IOException e) {
      throw new IllegalStateException("cannot create a temp dir for the test broker", e);
    }
    EmbeddedKafka kafka = EmbeddedKafka.start(EmbeddedKafka.Settings.of(dir));
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  kafka.close();
                  deleteRecursively(dir);
                },
                "reelay-test-kafka-shutdown"));
    log.info("test Kafka: embedded broker on {}", kafka.bootstrapServers());
    return kafka.bootstrapServers();
  }

  private static boolean testcontainersOnClasspath() {
    try {
      Class.forName("org.testcontainers.DockerClientFactory", false, TestKafka.class.getClassLoader());
      Class.forName("org.testcontainers.kafka.KafkaContainer", false, TestKafka.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  private static String setting(String name) {
    String v = System.getProperty(name);
    if (v == null || v.isBlank()) {
      v = System.getenv(name);
    }
    return v == null || v.isBlank() ? null : v.trim();
  }

  private static void deleteRecursively(Path dir) {
    try {
      Files.walkFileTree(
          dir,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
              Files.deleteIfExists(file);
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
              Files.deleteIfExists(d);
              return FileVisitResult.CONTINUE;
            }
          });
    } catch (IOException e) {
      // a temp dir left behind is harmless
    }
  }
}
