// The loopback port range from which each vault's data-plane origin (https://127.0.0.1:{port}/) is
// allocated. Invariant: First <= Last, both valid TCP ports; a port belongs to at most one vault
// (active or soft-deleted) at a time and returns to the range only when that vault is purged.
namespace Ironclad.ResourceManager.KeyVault;

/// <summary>An inclusive range of loopback ports for vault origins.</summary>
public sealed record VaultPortRange
{
    public VaultPortRange(int first, int last)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(first, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(last, 65535);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first, last);
        First = first;
        Last = last;
    }

    /// <summary>The default range, `--vault-ports 20000-20099`.</summary>
    public static VaultPortRange Default { get; } = new(20000, 20099);

    public int First { get; }

    public int Last { get; }

    public int Count => Last - First + 1;

    public bool Contains(int port) => port >= First && port <= Last;

    public override string ToString() => $"{First}-{Last}";
}
