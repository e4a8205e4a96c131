// A frozen, self-consistent picture of every volume's metadata at one journal sequence: what a
// checkpoint file holds. Map roots are shared immutable trees (frozen by the store before capture).
using Ironclad.Storage.Map;

namespace Ironclad.Storage.Checkpoints;

internal sealed record VolumeImage(uint Ordinal, Guid Id, VolumeKind Kind, long SizeBytes, ulong SharedBefore, Guid? SourceId, byte[] KeyCheck, MapNode? Root);

/// <param name="JournalGeneration">First journal segment to replay on top of this checkpoint.</param>
/// <param name="LastSequence">Journal sequence this image includes; replay skips records at or below it.</param>
internal sealed record CheckpointImage(ulong JournalGeneration, ulong LastSequence, ulong ClusterEpoch, uint NextOrdinal, IReadOnlyList<VolumeImage> Volumes);
