// NBD wire values, written down from the spec (upstream doc/proto.md "Values") independently of
// src/Ironclad.Nbd/Protocol/NbdConstants.cs, so a wrong constant in the server fails a test instead
// of agreeing with itself.
namespace Ironclad.Nbd.Tests.Support;

internal static class Wire
{
    public const ulong NbdMagic = 0x4e42444d41474943;           // "NBDMAGIC"
    public const ulong IHaveOpt = 0x49484156454F5054;           // "IHAVEOPT"
    public const ulong OptionReplyMagic = 0x0003e889045565a9;
    public const uint RequestMagic = 0x25609513;
    public const uint SimpleReplyMagic = 0x67446698;
    public const uint StructuredReplyMagic = 0x668e33ef;

    // Handshake flags (server) and client flags.
    public const ushort FlagFixedNewstyle = 1;
    public const ushort FlagNoZeroes = 2;
    public const uint ClientFixedNewstyle = 1;
    public const uint ClientNoZeroes = 2;

    // Options.
    public const uint OptExportName = 1;
    public const uint OptAbort = 2;
    public const uint OptList = 3;
    public const uint OptPeekExport = 4;
    public const uint OptStartTls = 5;
    public const uint OptInfo = 6;
    public const uint OptGo = 7;
    public const uint OptStructuredReply = 8;
    public const uint OptListMetaContext = 9;
    public const uint OptSetMetaContext = 10;
    public const uint OptExtendedHeaders = 11;

    // Option reply types.
    public const uint RepAck = 1;
    public const uint RepServer = 2;
    public const uint RepInfo = 3;
    public const uint RepMetaContext = 4;
    public const uint RepErrUnsup = 0x80000001;
    public const uint RepErrPolicy = 0x80000002;
    public const uint RepErrInvalid = 0x80000003;
    public const uint RepErrTlsRequired = 0x80000005;
    public const uint RepErrUnknown = 0x80000006;

    // NBD_INFO_*.
    public const ushort InfoExport = 0;
    public const ushort InfoName = 1;
    public const ushort InfoDescription = 2;
    public const ushort InfoBlockSize = 3;

    // Transmission flags.
    public const ushort HasFlags = 1 << 0;
    public const ushort ReadOnly = 1 << 1;
    public const ushort SendFlush = 1 << 2;
    public const ushort SendFua = 1 << 3;
    public const ushort Rotational = 1 << 4;
    public const ushort SendTrim = 1 << 5;
    public const ushort SendWriteZeroes = 1 << 6;
    public const ushort SendDf = 1 << 7;
    public const ushort CanMultiConn = 1 << 8;
    public const ushort SendResize = 1 << 9;
    public const ushort SendCache = 1 << 10;
    public const ushort SendFastZero = 1 << 11;

    // Commands.
    public const ushort CmdRead = 0;
    public const ushort CmdWrite = 1;
    public const ushort CmdDisc = 2;
    public const ushort CmdFlush = 3;
    public const ushort CmdTrim = 4;
    public const ushort CmdCache = 5;
    public const ushort CmdWriteZeroes = 6;
    public const ushort CmdBlockStatus = 7;

    // Command flags.
    public const ushort CmdFlagFua = 1 << 0;
    public const ushort CmdFlagNoHole = 1 << 1;
    public const ushort CmdFlagDf = 1 << 2;
    public const ushort CmdFlagReqOne = 1 << 3;
    public const ushort CmdFlagFastZero = 1 << 4;

    // Structured replies.
    public const ushort ReplyFlagDone = 1;
    public const ushort ReplyTypeNone = 0;
    public const ushort ReplyTypeOffsetData = 1;
    public const ushort ReplyTypeOffsetHole = 2;
    public const ushort ReplyTypeBlockStatus = 5;
    public const ushort ReplyTypeError = 0x8001;

    // Errno values.
    public const uint EPERM = 1;
    public const uint EIO = 5;
    public const uint EINVAL = 22;
    public const uint ENOSPC = 28;
    public const uint EOVERFLOW = 75;
    public const uint ENOTSUP = 95;

    // base:allocation states.
    public const uint StateHole = 1;
    public const uint StateZero = 2;
}
