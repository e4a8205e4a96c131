// Tuning knobs of a volume store. Defaults suit the embedded server; tests shrink them to force
// checkpoints and collections often.
namespace Ironclad.Storage;

public sealed record VolumeStoreOptions
{
    /// <summary>Write a checkpoint (and start a new journal segment) once the segment grows past this.</summary>
    public long CheckpointAfterJournalBytes { get; init; } = 64L << 20;

    /// <summary>Commit buffered metadata in the background once this much is waiting.</summary>
    public int CommitAfterPendingBytes { get; init; } = 1 << 20;

    /// <summary>Commit buffered metadata and data in the background at least this often (bounds what a crash loses without a flush).</summary>
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Run a garbage collection after this many clusters may have become unreferenced (copy-on-write away from shared data).</summary>
    public long CollectAfterGarbageHints { get; init; } = 4096;

    /// <summary>Run commits, checkpoints and collections on a background thread. Off only in tests that drive them by hand.</summary>
    public bool BackgroundMaintenance { get; init; } = true;
}
