// The export registry as the NBD server sees it: names, visibility, descriptions without opening,
// and revocation: removing an export closes every connection's handle once its calls in flight
// have returned, and later calls fail with ESHUTDOWN.
using System.Net;
using System.Text;
using Ironclad.Crypto.Keys;
using Ironclad.Host.Exports;
using Ironclad.Nbd.Exports;
using Ironclad.Storage;
using Ironclad.Testing;

namespace Ironclad.Host.Tests.Exports;

public sealed class ExportRegistryTests
{
    private static readonly NbdClient Anyone = new(new IPEndPoint(IPAddress.Loopback, 50000), IsTls: false, CertificateSubject: null);
    private static readonly NbdClient Alice = new(new IPEndPoint(IPAddress.Loopback, 50001), IsTls: true, CertificateSubject: "CN=alice, O=Ironclad");

    [Fact]
    public void An_empty_registry_lists_describes_and_opens_nothing()
    {
        using var registry = new ExportRegistry();

        Assert.Empty(registry.List(Anyone));
        Assert.Null(registry.Describe("scratch", Anyone));
        Assert.Null(registry.Open("scratch", Anyone));
        Assert.Null(registry.Open(string.Empty, Anyone));
    }

    [Fact]
    public void A_registered_export_is_listed_and_described_without_being_opened()
    {
        using var registry = new ExportRegistry();
        var opened = 0;
        registry.Add(new ExportRegistration("b", "second", () => new ExportShape(1 << 20, IsReadOnly: true, CanMultiConnect: false), _ =>
        {
            opened++;
            return new FakeExport();
        }));
        registry.Add(Fake("a"));

        Assert.Equal(["a", "b"], registry.List(Anyone).Select(d => d.Name));
        Assert.Equal(new NbdExportDescription("b", "second", 1 << 20, IsReadOnly: true, CanMultiConnect: false), registry.Describe("b", Anyone));
        Assert.Equal(0, opened);
        Assert.Equal(["a", "b"], registry.Names);
    }

    [Fact]
    public void Names_are_exact_and_case_sensitive()
    {
        using var registry = new ExportRegistry();
        registry.Add(Fake("Disk"));

        Assert.Null(registry.Describe("disk", Anyone));
        Assert.Null(registry.Open("disk ", Anyone));
        Assert.NotNull(registry.Describe("Disk", Anyone));
    }

    [Fact]
    public void A_name_is_registered_at_most_once()
    {
        using var registry = new ExportRegistry();
        registry.Add(Fake("scratch"));

        Assert.False(registry.TryAdd(Fake("scratch")));
        Assert.Throws<InvalidOperationException>(() => registry.Add(Fake("scratch")));
        Assert.True(registry.Remove("scratch"));
        Assert.False(registry.Remove("scratch"));
        Assert.True(registry.TryAdd(Fake("scratch")));
    }

    [Fact]
    public void Names_must_be_non_empty_and_at_most_4096_bytes_of_utf8()
    {
        Assert.ThrowsAny<ArgumentException>(() => Fake(string.Empty));
        Assert.Throws<ArgumentException>(() => Fake(new string('é', 2049)));
        Assert.Equal(4096, Encoding.UTF8.GetByteCount(Fake(new string('é', 2048)).Name));
    }

    [Fact]
    public void An_export_hidden_from_a_client_cannot_be_listed_described_or_opened_by_it()
    {
        using var registry = new ExportRegistry();
        registry.Add(Fake("private") with { IsVisibleTo = client => client.CertificateSubject == Alice.CertificateSubject });

        Assert.Empty(registry.List(Anyone));
        Assert.Null(registry.Describe("private", Anyone));
        Assert.Null(registry.Open("private", Anyone));
        Assert.Single(registry.List(Alice));
        using var handle = registry.Open("private", Alice);
        Assert.NotNull(handle);
    }

    [Fact]
    public void Closing_a_connection_s_handle_disposes_its_export_once()
    {
        using var registry = new ExportRegistry();
        var export = new FakeExport();
        registry.Add(Fake("disk", () => export));

        var handle = registry.Open("disk", Anyone)!;
        Assert.Equal(1, registry.OpenHandles);
        handle.Dispose();
        handle.Dispose();

        Assert.Equal(1, export.DisposeCount);
        Assert.Equal(0, registry.OpenHandles);
        var error = Assert.Throws<NbdExportException>(() => handle.Read(0, new byte[1]));
        Assert.Equal(NbdErrno.ESHUTDOWN, error.Errno);
    }

    [Fact]
    public void Handles_pass_calls_and_shape_through()
    {
        using var registry = new ExportRegistry();
        var export = new FakeExport();
        registry.Add(Fake("disk", () => export));
        using var handle = registry.Open("disk", Anyone)!;

        handle.Write(0, new byte[3], fua: true);
        handle.Read(0, new byte[2]);
        handle.Flush();
        handle.Trim(0, 1, fua: false);
        handle.WriteZeroes(0, 1, fua: false, noHole: true);
        Assert.Equal(1, handle.GetAllocation(0, 1, new NbdExtent[1]));

        Assert.Equal(["Write", "Read", "Flush", "Trim", "WriteZeroes", "GetAllocation"], export.Calls);
        Assert.Equal(export.SizeBytes, handle.SizeBytes);
        Assert.True(handle.IsZeroingFast(noHole: false));
    }

    [Fact]
    public void Removing_an_export_closes_open_handles_and_later_calls_are_ESHUTDOWN()
    {
        using var registry = new ExportRegistry();
        var exports = new List<FakeExport>();
        registry.Add(Fake("disk", () =>
        {
            var export = new FakeExport();
            exports.Add(export);
            return export;
        }));
        var first = registry.Open("disk", Anyone)!;
        var second = registry.Open("disk", Anyone)!;

        Assert.True(registry.Remove("disk"));

        Assert.All(exports, export => Assert.Equal(1, export.DisposeCount));
        Assert.Equal(NbdErrno.ESHUTDOWN, Assert.Throws<NbdExportException>(() => first.Write(0, new byte[1], fua: false)).Errno);
        Assert.Equal(NbdErrno.ESHUTDOWN, Assert.Throws<NbdExportException>(second.Flush).Errno);
        Assert.Null(registry.Open("disk", Anyone));
        first.Dispose(); // the connection ending later is harmless
        Assert.All(exports, export => Assert.Equal(1, export.DisposeCount));
    }

    [Fact]
    public async Task Remove_waits_for_calls_in_flight_before_disposing_the_export()
    {
        using var registry = new ExportRegistry();
        var export = new FakeExport { HoldReads = true };
        registry.Add(Fake("disk", () => export));
        var handle = registry.Open("disk", Anyone)!;

        var read = Task.Run(() => handle.Read(0, new byte[1]), TestContext.Current.CancellationToken);
        Assert.True(export.ReadEntered.Wait(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        var remove = Task.Run(() => registry.Remove("disk"), TestContext.Current.CancellationToken);
        await Task.Delay(200, TestContext.Current.CancellationToken);

        Assert.False(remove.IsCompleted, "Remove returned while a read was still running on the export");
        Assert.Equal(0, export.DisposeCount);
        export.ReleaseRead.Set();
        await read;
        Assert.True(await remove);
        Assert.Equal(1, export.DisposeCount);
        Assert.False(export.DisposedDuringCall);
    }

    [Fact]
    public void Disposing_the_registry_closes_every_handle_and_refuses_new_exports()
    {
        var registry = new ExportRegistry();
        var export = new FakeExport();
        registry.Add(Fake("disk", () => export));
        var handle = registry.Open("disk", Anyone)!;

        registry.Dispose();

        Assert.Equal(1, export.DisposeCount);
        Assert.Throws<NbdExportException>(() => handle.Read(0, new byte[1]));
        Assert.Throws<ObjectDisposedException>(() => registry.Add(Fake("other")));
        Assert.Empty(registry.List(Anyone));
    }

    [Fact]
    public void A_volume_export_whose_volume_is_gone_is_neither_listed_nor_opened()
    {
        using var temporary = new TempDirectory("ironclad-export-registry");
        using var store = VolumeStore.Open(temporary.Combine("volumes"));
        using var key = DataKey.Generate();
        var volumeId = Guid.NewGuid();
        store.CreateVolume(volumeId, 1 << 20, key);
        using var registry = new ExportRegistry();
        registry.Add(ExportRegistration.ForVolume("disk", "a disk", store, volumeId, () => store.OpenVolume(volumeId, key)));

        Assert.Equal(new NbdExportDescription("disk", "a disk", 1 << 20, IsReadOnly: false, CanMultiConnect: true), registry.Describe("disk", Anyone));
        using (var handle = registry.Open("disk", Anyone))
        {
            Assert.NotNull(handle);
            handle.Write(0, new byte[4096], fua: true);
        }

        store.Delete(volumeId);

        Assert.Empty(registry.List(Anyone));
        Assert.Null(registry.Describe("disk", Anyone));
        Assert.Null(registry.Open("disk", Anyone));
    }

    [Fact]
    public void Concurrent_adds_removes_and_opens_leave_no_handle_behind()
    {
        using var registry = new ExportRegistry();
        var exports = new System.Collections.Concurrent.ConcurrentBag<FakeExport>();
        Parallel.For(0, 2000, new ParallelOptions { CancellationToken = TestContext.Current.CancellationToken }, i =>
        {
            var name = $"disk{i % 7}";
            switch (i % 3)
            {
                case 0:
                    registry.TryAdd(Fake(name, () =>
                    {
                        var export = new FakeExport();
                        exports.Add(export);
                        return export;
                    }));
                    break;
                case 1:
                    registry.Remove(name);
                    break;
                default:
                    using (var handle = registry.Open(name, Anyone))
                    {
                        try
                        {
                            handle?.Flush();
                        }
                        catch (NbdExportException e) when (e.Errno == NbdErrno.ESHUTDOWN)
                        {
                            // Removed between open and flush: exactly what revocation means.
                        }
                    }

                    break;
            }
        });

        Assert.Equal(0, registry.OpenHandles);
        Assert.All(exports, export => Assert.Equal(1, export.DisposeCount));
    }

    private static ExportRegistration Fake(string name, Func<INbdExport>? open = null) =>
        new(name, description: null, () => new ExportShape(4096, IsReadOnly: false, CanMultiConnect: true), _ => (open ?? (() => new FakeExport()))());

    private sealed class FakeExport : INbdExport
    {
        private int _inCall;
        private int _disposeCount;

        /// <summary>When set, Read signals ReadEntered and then waits for ReleaseRead.</summary>
        public bool HoldReads { get; init; }

        public ManualResetEventSlim ReadEntered { get; } = new();

        public ManualResetEventSlim ReleaseRead { get; } = new();

        public List<string> Calls { get; } = [];

        public int DisposeCount => Volatile.Read(ref _disposeCount);

        public bool DisposedDuringCall { get; private set; }

        public long SizeBytes => 4096;

        public bool IsReadOnly => false;

        public bool CanMultiConnect => true;

        public void Read(long offsetBytes, Span<byte> destination)
        {
            Track("Read");
            Interlocked.Increment(ref _inCall);
            ReadEntered.Set();
            if (HoldReads)
            {
                ReleaseRead.Wait(TimeSpan.FromSeconds(30));
            }

            Interlocked.Decrement(ref _inCall);
        }

        public void Write(long offsetBytes, ReadOnlySpan<byte> source, bool fua) => Track("Write");

        public void Flush() => Track("Flush");

        public void Trim(long offsetBytes, long lengthBytes, bool fua) => Track("Trim");

        public void WriteZeroes(long offsetBytes, long lengthBytes, bool fua, bool noHole) => Track("WriteZeroes");

        public bool IsZeroingFast(bool noHole) => !noHole;

        public int GetAllocation(long offsetBytes, long lengthBytes, Span<NbdExtent> extents)
        {
            Track("GetAllocation");
            extents[0] = new NbdExtent(lengthBytes, NbdExtent.Hole | NbdExtent.Zero);
            return 1;
        }

        public void Dispose()
        {
            DisposedDuringCall |= Volatile.Read(ref _inCall) != 0;
            Interlocked.Increment(ref _disposeCount);
        }

        private void Track(string call)
        {
            lock (Calls)
            {
                Calls.Add(call);
            }
        }
    }
}
