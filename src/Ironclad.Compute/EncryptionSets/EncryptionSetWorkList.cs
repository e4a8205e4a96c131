// The work the rotation worker owes each disk encryption set: re-verify its key access, check for a
// newer key version, re-wrap layers not under the active key. Invariant: a set is queued at most
// once at a time (requests, signals and the periodic check coalesce), and a request for a rotation
// check is never lost by coalescing.
using System.Collections.Concurrent;
using System.Threading.Channels;

namespace Ironclad.Compute.EncryptionSets;

public sealed class EncryptionSetWorkList
{
    private readonly ConcurrentDictionary<string, bool> _pending = new(StringComparer.OrdinalIgnoreCase);
    private readonly Channel<string> _channel = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Queues <paramref name="encryptionSetId"/>; <paramref name="checkLatestVersion"/> asks for a rotation check too.</summary>
    public void Enqueue(string encryptionSetId, bool checkLatestVersion = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(encryptionSetId);
        var added = false;
        _pending.AddOrUpdate(encryptionSetId, _ => { added = true; return checkLatestVersion; }, (_, existing) => existing || checkLatestVersion);
        if (added)
        {
            _channel.Writer.TryWrite(encryptionSetId);
        }
    }

    /// <summary>The next set to work on and whether a rotation check was asked; waits until one is queued.</summary>
    internal async Task<(string EncryptionSetId, bool CheckLatestVersion)> DequeueAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var id = await _channel.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (_pending.TryRemove(id, out var check))
            {
                return (id, check);
            }
        }
    }
}
