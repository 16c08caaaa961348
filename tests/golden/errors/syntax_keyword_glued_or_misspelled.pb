segment 大客户 = spent >= 5000 ors tag "SVIP"
segment 复购客 = inSVIP
