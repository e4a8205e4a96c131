// Checkpoint file format v1 (docs/on-disk-format.md §4): a 64-byte header, the map nodes of every
// volume in post-order (each shared node written once, children before parents), the volume table,
// and a CRC-32C over everything after the header. Written to a temporary file, fsynced, then
// renamed over the previous checkpoint, so a crash leaves either the old or the new one whole.
using System.Buffers.Binary;
using Ironclad.Storage.Format;
using Ironclad.Storage.Map;
using Ironclad.Storage.Posix;
using Ironclad.Storage.Volumes;

namespace Ironclad.Storage.Checkpoints;

internal static class CheckpointFile
{
    public const int HeaderBytes = 64;
    private const string TemporarySuffix = ".tmp";

    public static void Write(string metaDirectory, CheckpointImage image)
    {
        var nodes = new List<MapNode>();
        var indexes = new Dictionary<MapNode, int>(ReferenceEqualityComparer.Instance);
        var visited = new HashSet<MapNode>(ReferenceEqualityComparer.Instance);
        foreach (var volume in image.Volumes)
        {
            ClusterMap.ForEachNodePostOrder(volume.Root, visited, node =>
            {
                indexes[node] = nodes.Count;
                nodes.Add(node);
            });
        }

        var finalPath = Path.Combine(metaDirectory, Layout.CheckpointFileName);
        var temporaryPath = finalPath + TemporarySuffix;
        using (var stream = new FileStream(temporaryPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            Span<byte> header = stackalloc byte[HeaderBytes];
            Layout.CheckpointMagic.CopyTo(header);
            BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Layout.FormatVersion);
            BinaryPrimitives.WriteUInt32LittleEndian(header[12..], HeaderBytes);
            BinaryPrimitives.WriteUInt64LittleEndian(header[16..], image.JournalGeneration);
            BinaryPrimitives.WriteUInt64LittleEndian(header[24..], image.LastSequence);
            BinaryPrimitives.WriteUInt64LittleEndian(header[32..], image.ClusterEpoch);
            BinaryPrimitives.WriteUInt32LittleEndian(header[40..], image.NextOrdinal);
            BinaryPrimitives.WriteUInt32LittleEndian(header[44..], (uint)image.Volumes.Count);
            BinaryPrimitives.WriteUInt32LittleEndian(header[48..], (uint)nodes.Count);
            BinaryPrimitives.WriteUInt32LittleEndian(header[60..], Crc32C.Compute(header[..60]));
            stream.Write(header);

            var body = new ChecksummedWriter(stream);
            foreach (var node in nodes)
            {
                body.U8((byte)node.Level);
                body.U16((ushort)node.Count);
                for (var slot = 0; slot < Layout.MapFanout; slot++)
                {
                    if (node.IsLeaf)
                    {
                        var entry = node.Entries![slot];
                        if (entry.IsAllocated)
                        {
                            body.U16((ushort)slot);
                            body.U64(entry.Word);
                            body.U64(entry.Birth);
                        }
                    }
                    else if (node.Children![slot] is { } child)
                    {
                        body.U16((ushort)slot);
                        body.U32((uint)indexes[child]);
                    }
                }
            }

            foreach (var volume in image.Volumes)
            {
                body.U32(volume.Ordinal);
                body.Guid(volume.Id);
                body.U8((byte)volume.Kind);
                body.U64((ulong)volume.SizeBytes);
                body.U64(volume.SharedBefore);
                body.U8(volume.SourceId is null ? (byte)0 : (byte)1);
                body.Guid(volume.SourceId ?? Guid.Empty);
                body.Bytes(volume.KeyCheck);
                body.U32(volume.Root is null ? 0u : (uint)indexes[volume.Root] + 1);
            }

            body.Finish();
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporaryPath, finalPath, overwrite: true);
        NativeMethods.FsyncDirectory(metaDirectory);
    }

    public static void DeleteTemporary(string metaDirectory)
    {
        var temporaryPath = Path.Combine(metaDirectory, Layout.CheckpointFileName + TemporarySuffix);
        if (File.Exists(temporaryPath))
        {
            File.Delete(temporaryPath);
        }
    }

    /// <summary>Reads the checkpoint, or returns null if the store has none yet.</summary>
    public static CheckpointImage? Read(string metaDirectory)
    {
        var path = Path.Combine(metaDirectory, Layout.CheckpointFileName);
        if (!File.Exists(path))
        {
            return null;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        Span<byte> header = stackalloc byte[HeaderBytes];
        stream.ReadExactly(header);
        if (!header[..8].SequenceEqual(Layout.CheckpointMagic) || BinaryPrimitives.ReadUInt32LittleEndian(header[60..]) != Crc32C.Compute(header[..60]))
        {
            throw new StorageException(StorageError.Corrupt, "The checkpoint header is damaged.");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(header[8..]) != Layout.FormatVersion)
        {
            throw new StorageException(StorageError.Corrupt, "The checkpoint has an unsupported format version.");
        }

        var journalGeneration = BinaryPrimitives.ReadUInt64LittleEndian(header[16..]);
        var lastSequence = BinaryPrimitives.ReadUInt64LittleEndian(header[24..]);
        var clusterEpoch = BinaryPrimitives.ReadUInt64LittleEndian(header[32..]);
        var nextOrdinal = BinaryPrimitives.ReadUInt32LittleEndian(header[40..]);
        var volumeCount = BinaryPrimitives.ReadUInt32LittleEndian(header[44..]);
        var nodeCount = BinaryPrimitives.ReadUInt32LittleEndian(header[48..]);

        var body = new ChecksummedReader(stream);
        var nodes = new MapNode[nodeCount];
        for (var i = 0; i < nodeCount; i++)
        {
            var level = body.U8();
            var count = body.U16();
            if (level >= Layout.MapLevels || count == 0 || count > Layout.MapFanout)
            {
                throw new StorageException(StorageError.Corrupt, "A checkpoint map node is malformed.");
            }

            var node = MapNode.Create(level, generation: 0);
            var previousSlot = -1;
            for (var n = 0; n < count; n++)
            {
                var slot = (int)body.U16();
                if (slot <= previousSlot || slot >= Layout.MapFanout)
                {
                    throw new StorageException(StorageError.Corrupt, "A checkpoint map node has slots out of order.");
                }

                previousSlot = slot;
                if (level == 0)
                {
                    var entry = new MapEntry(body.U64(), body.U64());
                    if (!entry.IsAllocated || !entry.IsValid)
                    {
                        throw new StorageException(StorageError.Corrupt, "A checkpoint map entry is malformed.");
                    }

                    node.Entries![slot] = entry;
                }
                else
                {
                    var child = body.U32();
                    if (child >= i || nodes[child].Level != level - 1)
                    {
                        throw new StorageException(StorageError.Corrupt, "A checkpoint map node refers to a node that does not precede it.");
                    }

                    node.Children![slot] = nodes[child];
                }
            }

            node.Count = count;
            nodes[i] = node;
        }

        var volumes = new List<VolumeImage>((int)volumeCount);
        for (var i = 0; i < volumeCount; i++)
        {
            var ordinal = body.U32();
            var id = body.Guid();
            var kind = (VolumeKind)body.U8();
            var sizeBytes = (long)body.U64();
            var sharedBefore = body.U64();
            var hasSource = body.U8() != 0;
            var sourceId = body.Guid();
            var keyCheck = body.Bytes(VolumeRecord.KeyCheckBytes);
            var rootIndex = body.U32();
            if (rootIndex > nodeCount || (rootIndex != 0 && nodes[rootIndex - 1].Level != ClusterMap.RootLevel) || !Enum.IsDefined(kind))
            {
                throw new StorageException(StorageError.Corrupt, "A checkpoint volume entry is malformed.");
            }

            volumes.Add(new VolumeImage(ordinal, id, kind, sizeBytes, sharedBefore, hasSource ? sourceId : null, keyCheck, rootIndex == 0 ? null : nodes[rootIndex - 1]));
        }

        body.VerifyEnd();
        return new CheckpointImage(journalGeneration, lastSequence, clusterEpoch, nextOrdinal, volumes);
    }

    /// <summary>Buffers little-endian fields, feeding the CRC as it goes.</summary>
    private sealed class ChecksummedWriter(Stream stream)
    {
        private readonly byte[] _buffer = new byte[1 << 16];
        private int _length;
        private uint _crc = Crc32C.Start;

        public void U8(byte value) => Reserve(1)[0] = value;

        public void U16(ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(Reserve(2), value);

        public void U32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), value);

        public void U64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Reserve(8), value);

        public void Guid(Guid value) => value.TryWriteBytes(Reserve(16), bigEndian: false, out _);

        public void Bytes(ReadOnlySpan<byte> value) => value.CopyTo(Reserve(value.Length));

        public void Finish()
        {
            Drain();
            Span<byte> trailer = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, Crc32C.Finish(_crc));
            stream.Write(trailer);
        }

        private Span<byte> Reserve(int count)
        {
            if (_length + count > _buffer.Length)
            {
                Drain();
            }

            var span = _buffer.AsSpan(_length, count);
            _length += count;
            return span;
        }

        private void Drain()
        {
            _crc = Crc32C.Append(_crc, _buffer.AsSpan(0, _length));
            stream.Write(_buffer, 0, _length);
            _length = 0;
        }
    }

    private sealed class ChecksummedReader(Stream stream)
    {
        private readonly byte[] _scratch = new byte[64];
        private uint _crc = Crc32C.Start;

        public byte U8() => Take(1)[0];

        public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

        public Guid Guid() => new(Take(16), bigEndian: false);

        public byte[] Bytes(int count) => Take(count).ToArray();

        public void VerifyEnd()
        {
            var expected = Crc32C.Finish(_crc);
            Span<byte> trailer = stackalloc byte[4];
            if (stream.ReadAtLeast(trailer, 4, throwOnEndOfStream: false) != 4 || BinaryPrimitives.ReadUInt32LittleEndian(trailer) != expected || stream.ReadByte() != -1)
            {
                throw new StorageException(StorageError.Corrupt, "The checkpoint fails its checksum.");
            }
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            var span = _scratch.AsSpan(0, count);
            if (stream.ReadAtLeast(span, count, throwOnEndOfStream: false) != count)
            {
                throw new StorageException(StorageError.Corrupt, "The checkpoint is truncated.");
            }

            _crc = Crc32C.Append(_crc, span);
            return span;
        }
    }
}
