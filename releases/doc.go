// Package releases publishes device software and tells devices which
// release to install.
//
// A platform operator publishes a release for one or more device models on
// a channel (STABLE or BETA), with a semantic version, the oldest version
// still supported, where to download it and its SHA-256, and the share of
// devices it is rolled out to. A device asks CheckForUpdate with its model,
// channel, current version and a key of its own: the serial number of the
// paired device whose credential asks (checkDeviceUpdate), so a device
// cannot pick its own bucket, or one a staff session names.
//
// Rollout buckets: a device's bucket for a release is the first four bytes
// of SHA-256(releaseID ":" deviceKey), big-endian, mod 100; the release is
// offered to the device when bucket < rollout percent. The bucket is fixed
// for a device and a release, so asking again gives the same answer and
// raising the percentage only adds devices; it is independent across
// releases, so the same devices are not always the first to get a build.
//
// Releases belong to no merchant, so publishing, rollout changes and
// withdrawals go to the platform's audit log (audit.RecordPlatform), in
// the change's transaction.
package releases
