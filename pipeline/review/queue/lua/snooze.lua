-- Record a snooze (Actions.snooze): KEYS[1] the entity's snoozes, ARGV detector, JSON, seconds.
-- The key's TTL becomes the longest of its snoozes' (Redis 6.2 has no EXPIRE GT), so an
-- entity's snoozes leave Redis when the last of them ends.
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
