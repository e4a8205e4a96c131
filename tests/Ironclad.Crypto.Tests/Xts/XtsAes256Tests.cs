// Behaviour of XtsAes256 beyond the bytes it produces: in-place use, argument checks, concurrency,
// lifetime (zeroing, use after Dispose, Dispose racing calls in flight) and the 0-byte allocation budget.
using Ironclad.Crypto.Keys;
using Ironclad.Crypto.Tests.Support;
using Ironclad.Crypto.Xts;
using Ironclad.Testing;

namespace Ironclad.Crypto.Tests.Xts;

public sealed class XtsAes256Tests
{
    [Fact]
    public void Decrypt_inverts_encrypt_for_every_unit()
    {
        var seed = Seeds.FromEnvironmentOrRandom();
        var random = new Random(seed);
        using var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);
        var plaintext = RandomBytes(random, 16 * DataUnit.SizeBytes);
        var firstUnitIndex = unchecked((ulong)random.NextInt64());

        var ciphertext = new byte[plaintext.Length];
        cipher.Encrypt(plaintext, ciphertext, firstUnitIndex);
        var decrypted = new byte[plaintext.Length];
        cipher.Decrypt(ciphertext, decrypted, firstUnitIndex);

        Assert.False(ciphertext.AsSpan().SequenceEqual(plaintext), $"seed={seed}: ciphertext equals plaintext");
        ByteAssert.Equal(plaintext, decrypted, $"seed={seed} firstUnitIndex={firstUnitIndex}");
    }

    [Fact]
    public void Each_unit_is_encrypted_under_its_own_index()
    {
        using var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);
        var plaintext = new byte[4 * DataUnit.SizeBytes]; // four identical (all-zero) units

        var whole = new byte[plaintext.Length];
        cipher.Encrypt(plaintext, whole, firstUnitIndex: 100);

        for (var unit = 0; unit < 4; unit++)
        {
            var single = new byte[DataUnit.SizeBytes];
            cipher.Encrypt(plaintext.AsSpan(unit * DataUnit.SizeBytes, DataUnit.SizeBytes), single, 100 + (ulong)unit);
            ByteAssert.Equal(single, whole.AsSpan(unit * DataUnit.SizeBytes, DataUnit.SizeBytes), $"unit {unit}");
        }

        Assert.False(whole.AsSpan(0, DataUnit.SizeBytes).SequenceEqual(whole.AsSpan(DataUnit.SizeBytes, DataUnit.SizeBytes)));
    }

    [Fact]
    public void Encrypt_and_decrypt_in_place_equal_out_of_place()
    {
        var seed = Seeds.FromEnvironmentOrRandom();
        var random = new Random(seed);
        using var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);
        var plaintext = RandomBytes(random, 8 * DataUnit.SizeBytes);
        var outOfPlace = new byte[plaintext.Length];
        cipher.Encrypt(plaintext, outOfPlace, 42);

        var buffer = plaintext.ToArray();
        cipher.Encrypt(buffer, buffer, 42);
        ByteAssert.Equal(outOfPlace, buffer, $"seed={seed}, encrypt in place");

        cipher.Decrypt(buffer, buffer, 42);
        ByteAssert.Equal(plaintext, buffer, $"seed={seed}, decrypt in place");
    }

    [Fact]
    public void Concurrent_use_from_many_threads_gives_identical_results()
    {
        const int threadCount = 8;
        const int iterationCount = 200;
        var seed = Seeds.FromEnvironmentOrRandom();
        var random = new Random(seed);
        using var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);
        var plaintexts = Enumerable.Range(0, threadCount).Select(_ => RandomBytes(random, 4 * DataUnit.SizeBytes)).ToArray();
        var indexes = Enumerable.Range(0, threadCount).Select(_ => (ulong)random.NextInt64(0, long.MaxValue)).ToArray();
        var expected = plaintexts.Select((p, t) =>
        {
            var c = new byte[p.Length];
            cipher.Encrypt(p, c, indexes[t]);
            return c;
        }).ToArray();

        var mismatches = new int[threadCount];
        using var start = new Barrier(threadCount);
        var threads = Enumerable.Range(0, threadCount).Select(t => new Thread(() =>
        {
            var ciphertext = new byte[plaintexts[t].Length];
            var decrypted = new byte[plaintexts[t].Length];
            start.SignalAndWait();
            for (var i = 0; i < iterationCount; i++)
            {
                cipher.Encrypt(plaintexts[t], ciphertext, indexes[t]);
                cipher.Decrypt(ciphertext, decrypted, indexes[t]);
                if (!ciphertext.AsSpan().SequenceEqual(expected[t]) || !decrypted.AsSpan().SequenceEqual(plaintexts[t]))
                {
                    mismatches[t]++;
                }
            }
        })).ToArray();
        Array.ForEach(threads, t => t.Start());
        Array.ForEach(threads, t => t.Join());

        Assert.True(mismatches.All(m => m == 0), $"seed={seed}: mismatches per thread: {string.Join(",", mismatches)}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(4095)]
    [InlineData(4097)]
    [InlineData(8192 - 16)]
    public void Lengths_that_are_not_whole_data_units_are_rejected(int lengthBytes)
    {
        using var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);
        var buffer = new byte[lengthBytes];

        Assert.Throws<ArgumentException>("plaintext", () => cipher.Encrypt(buffer, buffer, 0));
        Assert.Throws<ArgumentException>("ciphertext", () => cipher.Decrypt(buffer, buffer, 0));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4096 - 1)]
    [InlineData(4096 + 1)]
    [InlineData(2 * 4096)]
    public void Destination_of_another_length_is_rejected(int destinationBytes)
    {
        using var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);

        Assert.Throws<ArgumentException>("ciphertext", () => cipher.Encrypt(new byte[4096], new byte[destinationBytes], 0));
        Assert.Throws<ArgumentException>("plaintext", () => cipher.Decrypt(new byte[4096], new byte[destinationBytes], 0));
    }

    [Theory]
    [InlineData(16)]
    [InlineData(4096)]
    public void Partially_overlapping_source_and_destination_are_rejected(int shiftBytes)
    {
        using var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);
        var buffer = new byte[3 * 4096];

        Assert.Throws<ArgumentException>("ciphertext", () => cipher.Encrypt(buffer.AsSpan(0, 8192), buffer.AsSpan(shiftBytes, 8192), 0));
        Assert.Throws<ArgumentException>("plaintext", () => cipher.Decrypt(buffer.AsSpan(shiftBytes, 8192), buffer.AsSpan(0, 8192), 0));
    }

    [Fact]
    public void A_span_may_end_at_the_last_unit_index_but_not_run_past_it()
    {
        using var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);
        var buffer = new byte[2 * 4096];

        cipher.Encrypt(buffer, buffer, ulong.MaxValue - 1);
        cipher.Encrypt(buffer.AsSpan(0, 4096), buffer.AsSpan(0, 4096), ulong.MaxValue);
        Assert.Throws<ArgumentOutOfRangeException>("firstUnitIndex", () => cipher.Encrypt(buffer, buffer, ulong.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>("firstUnitIndex", () => cipher.Decrypt(buffer, buffer, ulong.MaxValue));
    }

    [Fact]
    public void An_empty_span_is_a_no_op()
    {
        using var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);

        cipher.Encrypt([], [], ulong.MaxValue);
        cipher.Decrypt([], [], ulong.MaxValue);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(4100)]
    [InlineData((16 << 20) + 16)]
    public void Single_data_units_that_are_not_1_to_2_pow_20_whole_blocks_are_rejected(int lengthBytes)
    {
        using var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);
        var buffer = new byte[lengthBytes];

        Assert.Throws<ArgumentException>("plaintext", () => cipher.EncryptDataUnit(buffer, buffer, 0));
        Assert.Throws<ArgumentException>("ciphertext", () => cipher.DecryptDataUnit(buffer, buffer, 0));
    }

    [Fact]
    public void Warm_calls_allocate_nothing()
    {
        using var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);
        var source = new byte[16 * 4096];
        var destination = new byte[source.Length];
        cipher.Encrypt(source, destination, 1);
        cipher.Decrypt(destination, destination, 1);

        var before = GC.GetAllocatedBytesForCurrentThread();
        cipher.Encrypt(source, destination, 1);
        cipher.Decrypt(destination, destination, 1);
        cipher.Encrypt(source.AsSpan(0, 4096), destination.AsSpan(0, 4096), 7);
        var allocatedBytes = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocatedBytes);
    }

    [Fact]
    public void The_cipher_keeps_working_after_its_DataKey_is_disposed()
    {
        var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);
        var plaintext = new byte[4096];
        var before = new byte[4096];
        cipher.Encrypt(plaintext, before, 3);

        key.Dispose();
        var after = new byte[4096];
        cipher.Encrypt(plaintext, after, 3);

        ByteAssert.Equal(before, after, "after DataKey.Dispose");
    }

    [Fact]
    public void Construction_from_a_disposed_key_throws()
    {
        var key = DataKey.Generate();
        key.Dispose();

        Assert.Throws<ObjectDisposedException>(() => new XtsAes256(key));
        Assert.Throws<ArgumentNullException>(() => new XtsAes256(null!));
    }

    [Fact]
    public void Use_after_dispose_throws_ObjectDisposedException()
    {
        using var key = DataKey.Generate();
        var cipher = new XtsAes256(key);
        var buffer = new byte[4096];

        cipher.Dispose();
        cipher.Dispose(); // idempotent

        Assert.Throws<ObjectDisposedException>(() => cipher.Encrypt(buffer, buffer, 0));
        Assert.Throws<ObjectDisposedException>(() => cipher.Decrypt(buffer, buffer, 0));
        Assert.Throws<ObjectDisposedException>(() => cipher.EncryptDataUnit(buffer, buffer, 0));
        Assert.Throws<ObjectDisposedException>(() => cipher.Encrypt([], [], 0));
    }

    [Fact]
    public void Dispose_zeroes_the_key_schedule_before_freeing_it()
    {
        using var key = DataKey.Generate();
        var cipher = new XtsAes256(key);
        var observedBytes = -1;
        var nonZeroBytes = -1;
        cipher.ScheduleZeroedForTesting = (schedule, _) =>
        {
            observedBytes = schedule.Length;
            nonZeroBytes = schedule.Length - schedule.Count((byte)0);
        };

        Assert.False(cipher.IsScheduleReleased);
        cipher.Dispose();

        Assert.True(cipher.IsScheduleReleased);
        Assert.Equal(3 * 15 * 16, observedBytes); // Key1 encrypt + Key1 decrypt + Key2 encrypt round keys
        Assert.Equal(0, nonZeroBytes);
    }

    [Fact]
    public void Dispose_racing_calls_in_flight_never_lets_a_call_use_a_zeroed_schedule()
    {
        const int threadCount = 4;
        using var key = DataKey.Generate();
        var cipher = new XtsAes256(key);
        var zeroedCount = 0;
        cipher.ScheduleZeroedForTesting = (schedule, _) => zeroedCount++;
        var plaintext = new byte[4 * 4096];
        new Random(1).NextBytes(plaintext);
        var expected = new byte[plaintext.Length];
        cipher.Encrypt(plaintext, expected, 9);

        var completed = new int[threadCount];
        var wrong = new int[threadCount];
        var threads = Enumerable.Range(0, threadCount).Select(t => new Thread(() =>
        {
            var ciphertext = new byte[plaintext.Length];
            while (true)
            {
                try
                {
                    cipher.Encrypt(plaintext, ciphertext, 9);
                }
                catch (ObjectDisposedException)
                {
                    return;
                }

                if (!ciphertext.AsSpan().SequenceEqual(expected))
                {
                    wrong[t]++;
                }

                Interlocked.Increment(ref completed[t]);
            }
        })).ToArray();
        Array.ForEach(threads, t => t.Start());
        SpinWait.SpinUntil(() => Enumerable.Range(0, threadCount).All(t => Volatile.Read(ref completed[t]) >= 50), TimeSpan.FromSeconds(30));

        cipher.Dispose();
        Array.ForEach(threads, t => t.Join());

        Assert.True(wrong.All(w => w == 0), $"calls that returned wrong ciphertext per thread: {string.Join(",", wrong)}");
        Assert.True(cipher.IsScheduleReleased);
        Assert.Equal(1, zeroedCount);
    }

    [Fact]
    public void ToString_does_not_reveal_key_material()
    {
        using var key = DataKey.Generate();
        using var cipher = new XtsAes256(key);

        Assert.Equal("XtsAes256(redacted)", cipher.ToString());
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
