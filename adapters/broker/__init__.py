"""Work queues: RabbitMQ (``amqp``) in production; the embedded default is the store itself."""
