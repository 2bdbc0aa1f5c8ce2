"""MQTT: the embedded amqtt broker serving GraphQL subscriptions and model topics (DESIGN §5)."""

from server.mqtt._acl import Grants, TopicAcl, group_topic, principal_key
from server.mqtt._service import MqttService

__all__ = ["Grants", "MqttService", "TopicAcl", "group_topic", "principal_key"]
