package io.reelay.kafka;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;

/**
 * The Testcontainers side of {@link TestKafka}. Kept in its own class so that it is loaded only
 * after Testcontainers was found on the classpath (the dependency is optional).
 */
final class DockerKafka {

  /** The broker version Reelay is built with (kafka.version in pom.xml; docker/compose.yml uses it too). */
  static final String IMAGE = "apache/kafka:4.4.0";

  private DockerKafka() {}

  /** The embedded broker's behaviour ({@link EmbeddedKafka#BEHAVIOUR}) as the apache/kafka image's variables. */
  static Map<String, String> environment() {
    Map<String, String> env = new TreeMap<>();
    EmbeddedKafka.BEHAVIOUR.forEach((key, value) -> env.put("KAFKA_" + key.toUpperCase(Locale.ROOT).replace('.', '_'), value));
    return env;
  }

  static boolean dockerAvailable() {
    try {
      return DockerClientFactory.instance().isDockerAvailable();
    } catch (RuntimeException | LinkageError e) {
      return false;
    }
  }

  @SuppressWarnings("resource") // stopped by the shutdown hook
  static String start() {
    KafkaContainer kafka = new KafkaContainer(IMAGE).withEnv(environment());
    kafka.start();
    Runtime.getRuntime().addShutdownHook(new Thread(kafka::stop, "reelay-test-kafka-docker-shutdown"));
    return kafka.getBootstrapServers();
  }
}
