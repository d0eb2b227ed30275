package io.reelay.kafka;

import org.testcontainers.DockerClientFactory;
import org.testcontainers.kafka.KafkaContainer;

/**
 * The Testcontainers side of {@link TestKafka}. Kept in its own class so that it is loaded only
 * after Testcontainers was found on the classpath (the dependency is optional).
 */
final class DockerKafka {

  static final String IMAGE = "apache/kafka:4.1.0";

  private DockerKafka() {}

  static boolean dockerAvailable() {
    try {
      return DockerClientFactory.instance().isDockerAvailable();
    } catch (RuntimeException | LinkageError e) {
      return false;
    }
  }

  @SuppressWarnings("resource") // stopped by the shutdown hook
  static String start() {
    KafkaContainer kafka =
        new KafkaContainer(IMAGE)
            .withEnv("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
            .withEnv("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
            .withEnv("KAFKA_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS", "500")
            .withEnv("KAFKA_GROUP_CONSUMER_MIN_HEARTBEAT_INTERVAL_MS", "500");
    kafka.start();
    Runtime.getRuntime().addShutdownHook(new Thread(kafka::stop, "reelay-test-kafka-docker-shutdown"));
    return kafka.getBootstrapServers();
  }
}
