// Double encryption at rest: a volume created with two DEKs (inner = customer layer, outer =
// platform layer) stores data under both, opens only with both, in the right order, and its
// snapshots and clones keep both layers.
using Ironclad.Crypto.Keys;
using Ironclad.Crypto.Xts;

namespace Ironclad.Storage.Tests;

public sealed class LayeredVolumeTests
{
    private const long MiB = 1 << 20;

    [Fact]
    public void A_two_layer_volume_round_trips_and_opens_only_with_both_keys_in_order()
    {
        using var context = new StorageTestContext();
        using var outer = DataKey.Generate();
        var id = Guid.NewGuid();
        context.Store.CreateVolume(id, 4 * MiB, context.Key, outer);
        var data = new byte[70_000];
        new Random(11).NextBytes(data);
        using (var volume = context.Store.OpenVolume(id, context.Key, outer))
        {
            volume.Write(4096, data, WriteOptions.Fua);
        }

        context.Reopen();
        Assert.Equal(StorageError.WrongKey, Assert.Throws<StorageException>(() => context.Store.OpenVolume(id, context.Key)).Error);
        Assert.Equal(StorageError.WrongKey, Assert.Throws<StorageException>(() => context.Store.OpenVolume(id, outer, context.Key)).Error);
        Assert.Equal(StorageError.WrongKey, Assert.Throws<StorageException>(() => context.Store.OpenVolume(id, outer)).Error);
        using var reopened = context.Store.OpenVolume(id, context.Key, outer);
        var back = new byte[data.Length];
        reopened.Read(4096, back);
        StorageTestContext.AssertSameBytes(data, back, "two-layer data");
    }

    [Fact]
    public void A_single_layer_key_check_does_not_open_a_two_layer_volume_and_back()
    {
        using var context = new StorageTestContext();
        using var outer = DataKey.Generate();
        var single = Guid.NewGuid();
        context.Store.CreateVolume(single, MiB, context.Key);
        Assert.Equal(StorageError.WrongKey, Assert.Throws<StorageException>(() => context.Store.OpenVolume(single, context.Key, outer)).Error);
    }

    [Fact]
    public void Snapshots_and_clones_of_a_two_layer_volume_keep_both_layers()
    {
        using var context = new StorageTestContext();
        using var outer = DataKey.Generate();
        var id = Guid.NewGuid();
        var snapshot = Guid.NewGuid();
        var clone = Guid.NewGuid();
        context.Store.CreateVolume(id, MiB, context.Key, outer);
        var data = new byte[8192];
        new Random(12).NextBytes(data);
        using (var volume = context.Store.OpenVolume(id, context.Key, outer))
        {
            volume.Write(0, data, WriteOptions.Fua);
        }

        context.Store.CreateSnapshot(id, snapshot);
        context.Store.CreateVolumeFromSnapshot(snapshot, clone, MiB);
        foreach (var target in new[] { snapshot, clone })
        {
            using var opened = context.Store.OpenVolume(target, context.Key, outer);
            var back = new byte[data.Length];
            opened.Read(0, back);
            StorageTestContext.AssertSameBytes(data, back, $"layered {target}");
        }
    }

    [Fact]
    public void The_layered_cipher_is_two_xts_passes_inner_first()
    {
        using var inner = DataKey.Generate();
        using var outer = DataKey.Generate();
        using var layered = new LayeredCipher(new XtsAes256(inner), new XtsAes256(outer));
        using var innerOnly = new XtsAes256(inner);
        using var outerOnly = new XtsAes256(outer);
        var plaintext = new byte[2 * 4096];
        new Random(13).NextBytes(plaintext);
        var expected = new byte[plaintext.Length];
        innerOnly.Encrypt(plaintext, expected, 5);
        outerOnly.Encrypt(expected, expected, 5);
        var actual = new byte[plaintext.Length];
        layered.Encrypt(plaintext, actual, 5);
        Assert.Equal(expected, actual);
        layered.Decrypt(actual, actual, 5);
        Assert.Equal(plaintext, actual);
    }
}
