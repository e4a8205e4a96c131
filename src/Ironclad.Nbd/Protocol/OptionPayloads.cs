// Parsers for the data of handshake options (proto.md "Option types"). Pure and total: malformed
// input returns false (the server answers NBD_REP_ERR_INVALID), never throws; strings must be
// valid UTF-8 without NUL and at most 4096 bytes, as the spec's "Conventions" require.
using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;

namespace Ironclad.Nbd.Protocol;

internal static class OptionPayloads
{
    public const int StringBytesMax = 4096;
    public const int QueriesMax = 64;

    /// <summary>NBD_OPT_EXPORT_NAME: the whole payload is the name.</summary>
    public static bool TryParseExportName(ReadOnlySpan<byte> data, out string name) => TryDecodeString(data, out name);

    /// <summary>NBD_OPT_INFO / NBD_OPT_GO: u32 name length, name, u16 request count, u16 × count info types.</summary>
    public static bool TryParseInfoRequest(ReadOnlySpan<byte> data, out string name, out InfoType[] requested)
    {
        name = "";
        requested = [];
        if (!TryReadString(ref data, out name) || data.Length < 2)
        {
            return false;
        }

        var count = BinaryPrimitives.ReadUInt16BigEndian(data);
        data = data[2..];
        if (data.Length != count * 2)
        {
            return false;
        }

        requested = new InfoType[count];
        for (var i = 0; i < count; i++)
        {
            requested[i] = (InfoType)BinaryPrimitives.ReadUInt16BigEndian(data[(i * 2)..]);
        }

        return true;
    }

    /// <summary>NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT: u32 name length, name, u32 query count, then (u32 length, query) × count.</summary>
    public static bool TryParseMetaContextRequest(ReadOnlySpan<byte> data, out string exportName, out string[] queries)
    {
        exportName = "";
        queries = [];
        if (!TryReadString(ref data, out exportName) || data.Length < 4)
        {
            return false;
        }

        var count = BinaryPrimitives.ReadUInt32BigEndian(data);
        data = data[4..];
        if (count > QueriesMax)
        {
            return false;
        }

        var parsed = new string[count];
        for (var i = 0; i < count; i++)
        {
            if (!TryReadString(ref data, out parsed[i]))
            {
                return false;
            }
        }

        queries = parsed;
        return data.IsEmpty;
    }

    private static bool TryReadString(ref ReadOnlySpan<byte> data, out string value)
    {
        value = "";
        if (data.Length < 4)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(data);
        if (length > StringBytesMax || length > (uint)(data.Length - 4))
        {
            return false;
        }

        if (!TryDecodeString(data.Slice(4, (int)length), out value))
        {
            return false;
        }

        data = data[(4 + (int)length)..];
        return true;
    }

    private static bool TryDecodeString(ReadOnlySpan<byte> bytes, out string value)
    {
        value = "";
        if (bytes.Length > StringBytesMax || bytes.Contains((byte)0) || !Utf8.IsValid(bytes))
        {
            return false;
        }

        value = Encoding.UTF8.GetString(bytes);
        return true;
    }
}
